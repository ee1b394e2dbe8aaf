package dev.skiff.apiserver.table;

import static dev.skiff.apiserver.table.ColumnDefinition.ageColumn;
import static dev.skiff.apiserver.table.ColumnDefinition.nameColumn;
import static dev.skiff.apiserver.table.ColumnDefinition.of;
import static dev.skiff.apiserver.table.ColumnDefinition.wide;
import static dev.skiff.apiserver.table.Obj.*;

import com.fasterxml.jackson.databind.JsonNode;
import java.time.Duration;
import java.time.Instant;

/** batch/v1: {@code printJob} and {@code printCronJob} in printers.go. */
final class BatchPrinters {
  private BatchPrinters() {}

  static TablePrinter jobs() {
    return SimplePrinter.of(
        (obj, now) -> {
          JsonNode spec = obj.path("spec");
          JsonNode status = obj.path("status");
          long succeeded = num(status, "succeeded");
          String completions;
          if (spec.path("completions").isNumber()) {
            completions = succeeded + "/" + spec.path("completions").asLong();
          } else {
            long parallelism = num(spec, "parallelism");
            completions =
                parallelism > 1 ? succeeded + "/1 of " + parallelism : succeeded + "/1";
          }
          Instant start = time(status, "startTime");
          Instant completion = time(status, "completionTime");
          String jobDuration = "";
          if (start != null) {
            jobDuration =
                HumanDuration.format(Duration.between(start, completion == null ? now : completion));
          }
          JsonNode conditions = status.path("conditions");
          String state;
          if (conditionTrue(conditions, "Complete")) {
            state = "Complete";
          } else if (conditionTrue(conditions, "Failed")) {
            state = "Failed";
          } else if (has(obj, "metadata", "deletionTimestamp")) {
            state = "Terminating";
          } else if (conditionTrue(conditions, "Suspended")) {
            state = "Suspended";
          } else if (conditionTrue(conditions, "FailureTarget")) {
            state = "FailureTarget";
          } else {
            state = "Running";
          }
          String[] ci = containerCells(at(spec, "template", "spec"));
          return new Object[] {
            name(obj),
            state,
            completions,
            jobDuration,
            age(obj, now),
            ci[0],
            ci[1],
            formatLabelSelector(spec.get("selector"))
          };
        },
        nameColumn(),
        of("Status", "string", "Status of the job."),
        of(
            "Completions",
            "string",
            "The number of pods which reached phase Succeeded. The value increases monotonically"
                + " for a given spec. However, it may decrease in reaction to scale down of elastic"
                + " indexed jobs."),
        of("Duration", "string", "Time required to complete the job."),
        ageColumn(),
        wide("Containers", "string", Docs.CONTAINERS),
        wide("Images", "string", Docs.IMAGES),
        wide("Selector", "string", Docs.JOB_SELECTOR));
  }

  static TablePrinter cronJobs() {
    return SimplePrinter.of(
        (obj, now) -> {
          JsonNode spec = obj.path("spec");
          Instant last = time(obj, "status", "lastScheduleTime");
          String timeZone = has(spec, "timeZone") ? str(spec, "timeZone") : "<none>";
          // printBoolPtr: "True"/"False", or "<unset>" for a nil pointer.
          String suspend =
              spec.path("suspend").isBoolean()
                  ? (spec.path("suspend").asBoolean() ? "True" : "False")
                  : "<unset>";
          JsonNode jobSpec = at(spec, "jobTemplate", "spec");
          String[] ci = containerCells(at(jobSpec, "template", "spec"));
          return new Object[] {
            name(obj),
            str(spec, "schedule"),
            timeZone,
            suspend,
            (long) size(obj, "status", "active"),
            last == null ? "<none>" : since(last, now),
            age(obj, now),
            ci[0],
            ci[1],
            formatLabelSelector(jobSpec.get("selector"))
          };
        },
        nameColumn(),
        of("Schedule", "string", "The schedule in Cron format, see https://en.wikipedia.org/wiki/Cron."),
        of(
            "Timezone",
            "string",
            "The time zone name for the given schedule, see"
                + " https://en.wikipedia.org/wiki/List_of_tz_database_time_zones. If not specified,"
                + " this will default to the time zone of the kube-controller-manager process. The"
                + " set of valid time zone names and the time zone offset is loaded from the system"
                + " wide time zone database by the API server during CronJob validation and the"
                + " controller manager during execution. If no system-wide time zone database can"
                + " be found a bundled version of the database is used instead. If the time zone"
                + " name becomes invalid during the lifetime of a CronJob or due to a change in"
                + " host configuration, the controller will stop creating new new Jobs and will"
                + " create a system event with the reason UnknownTimeZone. More information can be"
                + " found in"
                + " https://kubernetes.io/docs/concepts/workloads/controllers/cron-jobs/#time-zones"),
        of(
            "Suspend",
            "boolean",
            "This flag tells the controller to suspend subsequent executions, it does not apply to"
                + " already started executions.  Defaults to false."),
        of("Active", "integer", "A list of pointers to currently running jobs."),
        of(
            "Last Schedule",
            "string",
            "Information when was the last time the job was successfully scheduled."),
        ageColumn(),
        wide("Containers", "string", Docs.CONTAINERS),
        wide("Images", "string", Docs.IMAGES),
        wide("Selector", "string", Docs.JOB_SELECTOR));
  }
}
