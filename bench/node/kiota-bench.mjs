// Measure the Microsoft Graph TypeScript SDK's typed parse and serialize of a
// progressEvents page, for comparison with msgraph-migration.
//
//   node bench/node/kiota-bench.mjs PAGE [LUA_RESULTS [NODE_RESULTS]]
//
// Parse: JsonParseNodeFactory.getRootParseNode (UTF-8 decode and JSON.parse)
// then getObjectValue with the SharePointMigrationEventCollectionResponse
// factory, which types each item through the SharePointMigrationEvent
// discriminator factory, as a Graph request adapter does with a response body.
// It runs twice: with the InMemoryBackingStoreFactory that the SDK's default
// request adapter passes to its JSON parse node factory, and without a backing
// store (plain objects, the fastest the SDK offers).
//
// Serialize: one JsonSerializationWriter per event, through the serializer of
// the event's own type (serializeSharePointMigrationJobProgressEvent and so
// on), then getSerializedContent.
//
// If LUA_RESULTS names the file that bench/run.lua wrote, the script checks
// that the SDK decoded the same events (count and checksum) and prints the
// ratios of msgraph-migration's figures to the SDK's. NODE_RESULTS receives
// this script's figures as key=value lines for bench/summary.lua.

import { readFileSync, existsSync, writeFileSync } from "node:fs";
import { performance } from "node:perf_hooks";
import { InMemoryBackingStoreFactory } from "@microsoft/kiota-abstractions";
import { JsonParseNodeFactory, JsonSerializationWriterFactory } from "@microsoft/kiota-serialization-json";
import * as models from "@microsoft/msgraph-sdk/models/index.js";

const RUNS = Number(process.env.BENCH_RUNS || 5);

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

// Runs fn once to warm up, then RUNS times, and returns the median seconds and
// the last result.
function measure(fn) {
  let result = fn();
  const seconds = [];
  for (let i = 0; i < RUNS; i++) {
    const start = performance.now();
    result = fn();
    seconds.push((performance.now() - start) / 1000);
  }
  return { seconds: median(seconds), result };
}

// The SDK does not type the old beta names (#microsoft.graph.migration...):
// those events become SharePointMigrationEvent and their own properties land
// in additionalData, so the checksum looks there too.
function field(event, name) {
  if (event[name] !== undefined && event[name] !== null) return event[name];
  return event.additionalData ? event.additionalData[name] : undefined;
}

// Checksum shared with bench/run.lua: FNV-1a (32-bit) over every id followed
// by a newline byte, and the exact sum of totalRetryCount, filesProcessed,
// bytesProcessed and jobsInQueue over all events that carry them.
const COUNTERS = ["totalRetryCount", "filesProcessed", "bytesProcessed", "jobsInQueue"];

function checksum(events) {
  let hash = 0x811c9dc5;
  let sum = 0n;
  for (const event of events) {
    const id = event.id;
    for (let i = 0; i < id.length; i++) {
      hash = Math.imul(hash ^ id.charCodeAt(i), 0x01000193) >>> 0;
    }
    hash = Math.imul(hash ^ 10, 0x01000193) >>> 0;
    for (const name of COUNTERS) {
      const value = field(event, name);
      if (value !== undefined) sum += BigInt(value);
    }
  }
  return { count: events.length, idHash: hash, counterSum: sum.toString() };
}

const SERIALIZERS = {
  "#microsoft.graph.sharePointMigrationFinishManifestFileUploadEvent":
    models.serializeSharePointMigrationFinishManifestFileUploadEvent,
  "#microsoft.graph.sharePointMigrationJobCancelledEvent": models.serializeSharePointMigrationJobCancelledEvent,
  "#microsoft.graph.sharePointMigrationJobDeletedEvent": models.serializeSharePointMigrationJobDeletedEvent,
  "#microsoft.graph.sharePointMigrationJobErrorEvent": models.serializeSharePointMigrationJobErrorEvent,
  "#microsoft.graph.sharePointMigrationJobPostponedEvent": models.serializeSharePointMigrationJobPostponedEvent,
  "#microsoft.graph.sharePointMigrationJobProgressEvent": models.serializeSharePointMigrationJobProgressEvent,
  "#microsoft.graph.sharePointMigrationJobQueuedEvent": models.serializeSharePointMigrationJobQueuedEvent,
  "#microsoft.graph.sharePointMigrationJobStartEvent": models.serializeSharePointMigrationJobStartEvent,
};

function parsePage(factory, content) {
  const root = factory.getRootParseNode("application/json", content);
  const page = root.getObjectValue(models.createSharePointMigrationEventCollectionResponseFromDiscriminatorValue);
  return page.value;
}

function serializeEvents(writerFactory, events) {
  let bytes = 0;
  for (const event of events) {
    const serializer = SERIALIZERS[event.odataType] || models.serializeSharePointMigrationEvent;
    const writer = writerFactory.getSerializationWriter("application/json");
    writer.writeObjectValue(undefined, event, serializer);
    bytes += writer.getSerializedContent().byteLength;
  }
  return bytes;
}

// Reads key=value lines written by bench/run.lua.
function readLuaResults(path) {
  const results = {};
  if (!path || !existsSync(path)) return results;
  for (const line of readFileSync(path, "utf8").split("\n")) {
    const match = /^([\w.]+)=(.*)$/.exec(line);
    if (match) results[match[1]] = match[2];
  }
  return results;
}

function main() {
  const [pagePath, luaResultsPath, nodeResultsPath] = process.argv.slice(2);
  if (!pagePath) {
    console.error("usage: node kiota-bench.mjs PAGE [LUA_RESULTS [NODE_RESULTS]]");
    process.exit(2);
  }
  const file = readFileSync(pagePath);
  const content = file.buffer.slice(file.byteOffset, file.byteOffset + file.byteLength);
  const megabytes = file.byteLength / 1e6;
  const lua = readLuaResults(luaResultsPath);

  console.log(`Graph SDK (node ${process.version}, @microsoft/msgraph-sdk ${readVersion("@microsoft/msgraph-sdk")}, ` +
    `@microsoft/kiota-serialization-json ${readVersion("@microsoft/kiota-serialization-json")}), ` +
    `median of ${RUNS} runs after a warm-up`);

  const configurations = [
    ["parse, backing store (SDK default)", new JsonParseNodeFactory(new InMemoryBackingStoreFactory()), "parse_backing_store"],
    ["parse, no backing store", new JsonParseNodeFactory(), "parse_plain"],
  ];
  const rates = {};
  let parsed;
  for (const [label, factory, key] of configurations) {
    const { seconds, result } = measure(() => parsePage(factory, content));
    const sum = checksum(result);
    if (lua["checksum.count"] && (String(sum.count) !== lua["checksum.count"] ||
        String(sum.idHash) !== lua["checksum.id_hash"] || sum.counterSum !== lua["checksum.counter_sum"])) {
      console.error(`checksum mismatch for ${label}: ${JSON.stringify(sum)} vs Lua ` +
        `${lua["checksum.count"]} ${lua["checksum.id_hash"]} ${lua["checksum.counter_sum"]}`);
      process.exit(1);
    }
    rates[label] = sum.count / seconds;
    rates[key] = sum.count / seconds;
    console.log(`  ${label.padEnd(38)} ${format(sum.count / seconds)} events/s  ${(megabytes / seconds).toFixed(1)} MB/s` +
      `  checksum ${sum.count} ${sum.idHash} ${sum.counterSum}`);
    parsed = result;
  }

  const writerFactory = new JsonSerializationWriterFactory();
  const { seconds, result: bytes } = measure(() => serializeEvents(writerFactory, parsed));
  rates.serialize = parsed.length / seconds;
  console.log(`  ${"serialize, per-type serializer".padEnd(38)} ${format(parsed.length / seconds)} events/s  ` +
    `${(bytes / 1e6 / seconds).toFixed(1)} MB/s of output`);

  if (nodeResultsPath) {
    const lines = [
      `node.version=${process.version}`,
      `sdk.version=${readVersion("@microsoft/msgraph-sdk")}`,
      `parse_backing_store.events_per_s=${rates.parse_backing_store}`,
      `parse_plain.events_per_s=${rates.parse_plain}`,
      `serialize.events_per_s=${rates.serialize}`,
    ];
    writeFileSync(nodeResultsPath, lines.join("\n") + "\n");
  }

  const ours = Number(lua["decode.ours.events_per_s"]);
  const oursEncode = Number(lua["encode.ours.events_per_s"]);
  if (ours > 0) {
    console.log("Ratios, msgraph-migration events/s over the SDK's:");
    for (const [label] of configurations) {
      console.log(`  decode_page vs ${label.padEnd(38)} ${(ours / rates[label]).toFixed(1)}x`);
    }
    if (oursEncode > 0) {
      console.log(`  encode vs ${"serialize, per-type serializer".padEnd(43)} ${(oursEncode / rates.serialize).toFixed(1)}x`);
    }
  }
}

function format(rate) {
  return Math.round(rate).toLocaleString("en-US").padStart(11);
}

function readVersion(name) {
  const url = new URL(`./node_modules/${name}/package.json`, import.meta.url);
  return JSON.parse(readFileSync(url, "utf8")).version;
}

main();
