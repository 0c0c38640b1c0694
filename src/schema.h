/*
** Schema of the Graph migration event family, as data.
**
** Every property is described once (field_desc) and every type lists the
** properties it has, its own after those of its base (type_desc). Adding a
** type means adding a descriptor; adding a kind of property means extending
** the switch statements on field_kind in record.c, decode.c and encode.c.
*/

#ifndef MSGRAPH_SCHEMA_H
#define MSGRAPH_SCHEMA_H

#include <stddef.h>
#include <stdint.h>

/* Upper bound on the properties of one type; the presence masks are 32 bits. */
#define MAX_FIELDS 32

typedef enum field_kind {
	KIND_STRING,      /* Edm.String: UTF-8 text */
	KIND_BOOLEAN,     /* Edm.Boolean */
	KIND_INT32,       /* Edm.Int32: a JSON integer */
	KIND_INT64,       /* Edm.Int64: a JSON integer, or a string holding one */
	KIND_DATETIME,    /* Edm.DateTimeOffset: validated text, kept as written */
	KIND_ENUM,        /* a Graph enum: any string, matched without regard to case */
	KIND_OBJECT,      /* a nested complex type */
	KIND_OBJECT_LIST  /* a collection of a complex type */
} field_kind;

typedef struct enum_desc {
	const char *name;              /* Graph enum type name, for messages */
	const char *const *members;    /* declared members, camelCase */
	int nmembers;
	int unknown_member;            /* index of unknownFutureValue */
} enum_desc;

struct type_desc;

typedef struct field_desc {
	const char *name;              /* Graph property name and JSON key */
	size_t len;                    /* strlen(name) */
	field_kind kind;
	const struct type_desc *object_type;  /* KIND_OBJECT and KIND_OBJECT_LIST */
	const enum_desc *enumeration;         /* KIND_ENUM */
} field_desc;

typedef struct type_desc {
	const char *name;              /* Graph-style type name, e.g. "MigrationJobStartEvent" */
	const char *tname;             /* metatable __name, e.g. "msgraph.migration.MigrationJobStartEvent" */
	const struct type_desc *base;  /* NULL for Entity and for complex types */
	const field_desc *const *fields;  /* base properties first, then its own */
	int nfields;
	const char *spellings[3];      /* @odata.type values of the three naming generations */
	int is_entity;                 /* 0 for complex types such as publicError */
	int is_abstract;               /* Entity: never decoded or built itself */
	int key_field;                 /* index of the field shown by tostring, or -1 */
} type_desc;

/* The types in registration order: bases before subtypes. */
extern const type_desc *const schema_types[];
extern const int schema_ntypes;

extern const type_desc type_entity;
extern const type_desc type_migration_event;
extern const type_desc type_public_error;

#endif
