/*
** The migration event family of Microsoft Graph (resource pages under
** api-reference/{beta,v1.0}/resources/ in microsoftgraph/microsoft-graph-docs-contrib):
** three naming generations of eight event types on one base, plus the
** publicError complex type that error events carry.
*/

#include "schema.h"

#define COUNT(a) ((int)(sizeof(a) / sizeof((a)[0])))
#define GRAPH "#microsoft.graph."


/* {====================================================== */
/* Enumerations                                            */
/* ======================================================= */

static const char *const error_level_members[] = {
	"important", "warning", "error", "fatalError", "unknownFutureValue"
};

static const enum_desc enum_error_level = {
	"sharePointMigrationJobErrorLevel", error_level_members,
	COUNT(error_level_members), 4
};

static const char *const object_type_members[] = {
	"site", "web", "folder", "list", "listItem", "file", "alert",
	"sharedWithObject", "invalid", "unknownFutureValue"
};

static const enum_desc enum_object_type = {
	"sharePointMigrationObjectType", object_type_members,
	COUNT(object_type_members), 9
};

/* }====================================================== */


/* {====================================================== */
/* Properties                                              */
/* ======================================================= */

#define STRING(n)   { n, sizeof(n) - 1, KIND_STRING, NULL, NULL }
#define BOOLEAN(n)  { n, sizeof(n) - 1, KIND_BOOLEAN, NULL, NULL }
#define INT32(n)    { n, sizeof(n) - 1, KIND_INT32, NULL, NULL }
#define INT64(n)    { n, sizeof(n) - 1, KIND_INT64, NULL, NULL }
#define DATETIME(n) { n, sizeof(n) - 1, KIND_DATETIME, NULL, NULL }
#define ENUM(n, e)  { n, sizeof(n) - 1, KIND_ENUM, NULL, e }
#define OBJECT(n, t) { n, sizeof(n) - 1, KIND_OBJECT, t, NULL }
#define LIST(n, t)  { n, sizeof(n) - 1, KIND_OBJECT_LIST, t, NULL }

extern const type_desc type_public_error_detail;
extern const type_desc type_public_inner_error;

static const field_desc f_id = STRING("id");
static const field_desc f_job_id = STRING("jobId");
static const field_desc f_event_date_time = DATETIME("eventDateTime");
static const field_desc f_correlation_id = STRING("correlationId");

static const field_desc f_is_cancelled_by_user = BOOLEAN("isCancelledByUser");
static const field_desc f_total_retry_count = INT32("totalRetryCount");
static const field_desc f_manifest_file_name = STRING("manifestFileName");
static const field_desc f_is_restarted = BOOLEAN("isRestarted");
static const field_desc f_jobs_in_queue = INT64("jobsInQueue");
static const field_desc f_next_pickup_date_time = DATETIME("nextPickupDateTime");
static const field_desc f_reason = STRING("reason");

static const field_desc f_is_completed = BOOLEAN("isCompleted");
static const field_desc f_last_processed_object_id = STRING("lastProcessedObjectId");
static const field_desc f_bytes_processed = INT64("bytesProcessed");
static const field_desc f_bytes_processed_only_current_version = INT64("bytesProcessedOnlyCurrentVersion");
static const field_desc f_cpu_duration_ms = INT64("cpuDurationMs");
static const field_desc f_files_processed = INT64("filesProcessed");
static const field_desc f_files_processed_only_current_version = INT64("filesProcessedOnlyCurrentVersion");
static const field_desc f_objects_processed = INT64("objectsProcessed");
static const field_desc f_sql_duration_ms = INT64("sqlDurationMs");
static const field_desc f_sql_query_count = INT64("sqlQueryCount");
static const field_desc f_total_duration_ms = INT64("totalDurationMs");
static const field_desc f_total_errors = INT64("totalErrors");
static const field_desc f_total_expected_bytes = INT64("totalExpectedBytes");
static const field_desc f_total_expected_objects = INT64("totalExpectedObjects");
static const field_desc f_total_warnings = INT64("totalWarnings");
static const field_desc f_wait_time_on_sql_throttling_ms = INT64("waitTimeOnSqlThrottlingMs");

static const field_desc f_error = OBJECT("error", &type_public_error);
static const field_desc f_error_level = ENUM("errorLevel", &enum_error_level);
static const field_desc f_object_type = ENUM("objectType", &enum_object_type);
static const field_desc f_object_id = STRING("objectId");
static const field_desc f_object_url = STRING("objectUrl");

static const field_desc f_code = STRING("code");
static const field_desc f_message = STRING("message");
static const field_desc f_target = STRING("target");
static const field_desc f_details = LIST("details", &type_public_error_detail);
static const field_desc f_inner_error = OBJECT("innerError", &type_public_inner_error);

/* }====================================================== */


/* {====================================================== */
/* Types                                                   */
/* ======================================================= */

#define ENTITY_FIELDS &f_id
#define EVENT_FIELDS ENTITY_FIELDS, &f_job_id, &f_event_date_time, &f_correlation_id

/* An event type named in all three generations: migration*, sharepointMigration*, sharePointMigration*. */
#define EVENT_TYPE(var, name, suffix, list) \
	const type_desc var = { \
		name, "msgraph.migration." name, &type_migration_event, list, COUNT(list), \
		{ GRAPH "migration" suffix, GRAPH "sharepointMigration" suffix, GRAPH "sharePointMigration" suffix }, \
		1, 0, 0 \
	}

static const field_desc *const entity_fields[] = { ENTITY_FIELDS };
const type_desc type_entity = {
	"Entity", "msgraph.migration.Entity", NULL, entity_fields, COUNT(entity_fields),
	{ NULL, NULL, NULL }, 1, 1, 0
};

static const field_desc *const event_fields[] = { EVENT_FIELDS };
const type_desc type_migration_event = {
	"MigrationEvent", "msgraph.migration.MigrationEvent", &type_entity,
	event_fields, COUNT(event_fields),
	{ GRAPH "migrationEvent", GRAPH "sharepointMigrationEvent", GRAPH "sharePointMigrationEvent" },
	1, 0, 0
};

static const field_desc *const cancelled_fields[] = {
	EVENT_FIELDS, &f_is_cancelled_by_user, &f_total_retry_count
};
EVENT_TYPE(type_job_cancelled, "MigrationJobCancelledEvent", "JobCancelledEvent", cancelled_fields);

static const field_desc *const queued_fields[] = { EVENT_FIELDS };
EVENT_TYPE(type_job_queued, "MigrationJobQueuedEvent", "JobQueuedEvent", queued_fields);

static const field_desc *const deleted_fields[] = { EVENT_FIELDS };
EVENT_TYPE(type_job_deleted, "MigrationJobDeletedEvent", "JobDeletedEvent", deleted_fields);

static const field_desc *const start_fields[] = {
	EVENT_FIELDS, &f_is_restarted, &f_total_retry_count
};
EVENT_TYPE(type_job_start, "MigrationJobStartEvent", "JobStartEvent", start_fields);

static const field_desc *const postponed_fields[] = {
	EVENT_FIELDS, &f_jobs_in_queue, &f_next_pickup_date_time, &f_reason, &f_total_retry_count
};
EVENT_TYPE(type_job_postponed, "MigrationJobPostponedEvent", "JobPostponedEvent", postponed_fields);

static const field_desc *const progress_fields[] = {
	EVENT_FIELDS, &f_bytes_processed, &f_bytes_processed_only_current_version,
	&f_cpu_duration_ms, &f_files_processed, &f_files_processed_only_current_version,
	&f_is_completed, &f_last_processed_object_id, &f_objects_processed,
	&f_sql_duration_ms, &f_sql_query_count, &f_total_duration_ms, &f_total_errors,
	&f_total_expected_bytes, &f_total_expected_objects, &f_total_retry_count,
	&f_total_warnings, &f_wait_time_on_sql_throttling_ms
};
EVENT_TYPE(type_job_progress, "MigrationJobProgressEvent", "JobProgressEvent", progress_fields);

static const field_desc *const error_event_fields[] = {
	EVENT_FIELDS, &f_error, &f_error_level, &f_object_id, &f_object_type,
	&f_object_url, &f_total_retry_count
};
EVENT_TYPE(type_job_error, "MigrationJobErrorEvent", "JobErrorEvent", error_event_fields);

static const field_desc *const manifest_fields[] = { EVENT_FIELDS, &f_manifest_file_name };
EVENT_TYPE(type_finish_manifest, "MigrationFinishManifestFileUploadEvent",
           "FinishManifestFileUploadEvent", manifest_fields);

static const field_desc *const detail_fields[] = { &f_code, &f_message, &f_target };
const type_desc type_public_error_detail = {
	"PublicErrorDetail", "msgraph.migration.PublicErrorDetail", NULL,
	detail_fields, COUNT(detail_fields), { NULL, NULL, NULL }, 0, 0, 0
};

static const field_desc *const inner_error_fields[] = { &f_code, &f_details, &f_message, &f_target };
const type_desc type_public_inner_error = {
	"PublicInnerError", "msgraph.migration.PublicInnerError", NULL,
	inner_error_fields, COUNT(inner_error_fields), { NULL, NULL, NULL }, 0, 0, 0
};

static const field_desc *const public_error_fields[] = {
	&f_code, &f_details, &f_inner_error, &f_message, &f_target
};
const type_desc type_public_error = {
	"PublicError", "msgraph.migration.PublicError", NULL,
	public_error_fields, COUNT(public_error_fields), { NULL, NULL, NULL }, 0, 0, 0
};

/* }====================================================== */


const type_desc *const schema_types[] = {
	&type_entity, &type_migration_event,
	&type_finish_manifest, &type_job_cancelled, &type_job_deleted, &type_job_error,
	&type_job_postponed, &type_job_progress, &type_job_queued, &type_job_start,
	&type_public_error_detail, &type_public_inner_error, &type_public_error
};

const int schema_ntypes = COUNT(schema_types);
