package dev.skiff.apiserver.table;

import static dev.skiff.apiserver.table.ColumnDefinition.nameColumn;
import static dev.skiff.apiserver.table.ColumnDefinition.of;
import static dev.skiff.apiserver.table.ColumnDefinition.wide;
import static dev.skiff.apiserver.table.Obj.*;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.time.Instant;
import java.util.Arrays;
import java.util.List;

/**
 * Events: {@code printEvent} in printers.go. Upstream prints the internal Event type, which both
 * core/v1 and events.k8s.io/v1 convert to; {@link Fields} does that conversion's renames
 * (regarding→involvedObject, note→message, deprecated* → first/last timestamp, count, source).
 */
final class EventPrinter implements TablePrinter {

  /** The internal-Event view of either API version. */
  private record Fields(
      String involvedObject,
      String message,
      String source,
      String firstTimestampField,
      String lastTimestampField,
      String countField) {}

  private static final Fields CORE =
      new Fields(
          "involvedObject", "message", "source", "firstTimestamp", "lastTimestamp", "count");
  private static final Fields EVENTS_V1 =
      new Fields(
          "regarding",
          "note",
          "deprecatedSource",
          "deprecatedFirstTimestamp",
          "deprecatedLastTimestamp",
          "deprecatedCount");

  private static final List<ColumnDefinition> COLUMNS =
      List.of(
          of(
              "Last Seen",
              "string",
              "The time at which the most recent occurrence of this event was recorded."),
          of(
              "Type",
              "string",
              "Type of this event (Normal, Warning), new types could be added in the future"),
          of(
              "Reason",
              "string",
              "This should be a short, machine understandable string that gives the reason for the"
                  + " transition into the object's current status."),
          of("Object", "string", "The object that this event is about."),
          wide(
              "Subobject",
              "string",
              "If referring to a piece of an object instead of an entire object, this string should"
                  + " contain a valid JSON/Go field access statement, such as"
                  + " desiredState.manifest.containers[2]. For example, if the object reference is"
                  + " to a container within a pod, this would take on a value like:"
                  + " \"spec.containers{name}\" (where \"name\" refers to the name of the container"
                  + " that triggered the event) or if no container name is specified"
                  + " \"spec.containers[2]\" (container with index 2 in this pod). This syntax is"
                  + " chosen only to have some well-defined way of referencing a part of an object."),
          wide(
              "Source",
              "string",
              "The component reporting this event. Should be a short machine understandable"
                  + " string."),
          of("Message", "string", "A human-readable description of the status of this operation."),
          wide(
              "First Seen",
              "string",
              "The time at which the event was first recorded. (Time of server receipt is in"
                  + " TypeMeta.)"),
          wide("Count", "string", "The number of times this event has occurred."),
          new ColumnDefinition("Name", "string", "name", Docs.NAME, 1));

  private final boolean eventsV1;

  EventPrinter(boolean eventsV1) {
    this.eventsV1 = eventsV1;
  }

  @Override
  public List<ColumnDefinition> columns() {
    return COLUMNS;
  }

  @Override
  public List<Object> cells(ObjectNode obj, Instant now) {
    Fields f = eventsV1 ? EVENTS_V1 : CORE;
    JsonNode involved = obj.path(f.involvedObject());
    JsonNode source = obj.path(f.source());

    Instant first = time(obj, f.firstTimestampField());
    String firstTimestamp = first != null ? since(first, now) : since(time(obj, "eventTime"), now);
    Instant last = time(obj, f.lastTimestampField());
    String lastTimestamp = last != null ? since(last, now) : firstTimestamp;

    long count = num(obj, f.countField());
    if (obj.path("series").isObject()) {
      lastTimestamp = since(time(obj, "series", "lastObservedTime"), now);
      count = num(obj, "series", "count");
    } else if (count == 0) {
      // Singleton events don't have a count set in the new API.
      count = 1;
    }

    String kind = str(involved, "kind").toLowerCase();
    String target = str(involved, "name").isEmpty() ? kind : kind + "/" + str(involved, "name");

    String component = firstNonEmpty(str(source, "component"), str(obj, "reportingController"));
    String instance = firstNonEmpty(str(source, "host"), str(obj, "reportingInstance"));
    String src = instance.isEmpty() ? component : component + ", " + instance;

    return Arrays.asList(
        lastTimestamp,
        str(obj, "type"),
        str(obj, "reason"),
        target,
        str(involved, "fieldPath"),
        src,
        str(obj, f.message()).strip(),
        firstTimestamp,
        count,
        name(obj));
  }

  private static String firstNonEmpty(String a, String b) {
    return a.isEmpty() ? b : a;
  }
}
