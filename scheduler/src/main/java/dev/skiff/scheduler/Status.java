package dev.skiff.scheduler;

import java.util.List;

/**
 * The result of a plugin call ({@code pkg/scheduler/framework/interface.go}). The code also says
 * how a rejected pod is requeued: {@link Code#UNSCHEDULABLE} pods come back on cluster events that
 * may help and may be helped by preemption; {@link Code#UNSCHEDULABLE_AND_UNRESOLVABLE} ones cannot
 * be helped by preemption on that node; {@link Code#ERROR} pods go to backoff. Immutable.
 */
public record Status(Code code, List<String> reasons, String plugin) {
  /** Upstream's seven codes. */
  public enum Code { SUCCESS, ERROR, UNSCHEDULABLE, UNSCHEDULABLE_AND_UNRESOLVABLE, WAIT, SKIP, PENDING }

  public static final Status SUCCESS = new Status(Code.SUCCESS, List.of(), null);
  public static final Status SKIP = new Status(Code.SKIP, List.of(), null);

  public static Status unschedulable(String... reasons) {
    return new Status(Code.UNSCHEDULABLE, List.of(reasons), null);
  }

  public static Status unresolvable(String... reasons) {
    return new Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, List.of(reasons), null);
  }

  public static Status error(String reason) {
    return new Status(Code.ERROR, List.of(reason), null);
  }

  public boolean isSuccess() {
    return code == Code.SUCCESS;
  }

  public boolean isRejected() {
    return code == Code.UNSCHEDULABLE || code == Code.UNSCHEDULABLE_AND_UNRESOLVABLE;
  }

  Status withPlugin(String name) {
    return new Status(code, reasons, name);
  }
}
