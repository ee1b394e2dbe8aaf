package dev.skiff.kubelet.prober;

import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.LifecycleHandler;
import io.fabric8.kubernetes.api.model.Probe;
import io.fabric8.kubernetes.api.model.ProbeBuilder;
import java.time.Duration;
import java.util.function.ToLongFunction;

/**
 * Container lifecycle hooks (pkg/kubelet/lifecycle/handlers.go): postStart after a container
 * starts, preStop before it is stopped. A handler is exec, httpGet or tcpSocket (run as the
 * {@link Prober} runs probes, inside the container's namespaces for exec) or sleep. Stateless;
 * thread-safe.
 */
public final class LifecycleHooks {
  private final Prober prober;
  private final ToLongFunction<String> pids;

  /** @param pids container id -> the pid exec handlers enter (the shim's) */
  public LifecycleHooks(Prober prober, ToLongFunction<String> pids) {
    this.prober = prober;
    this.pids = pids;
  }

  /**
   * Runs {@code handler} for container {@code c}, giving up after {@code timeout} (the kubelet
   * bounds preStop by the grace period and does not bound postStart; a stuck hook here is cut at
   * the timeout). Returns null on success, else the failure message.
   */
  public String run(LifecycleHandler handler, Container c, String containerId, String podIp, Duration timeout) {
    if (handler == null) {
      return null;
    }
    if (handler.getSleep() != null) {
      long seconds = handler.getSleep().getSeconds() == null ? 0 : handler.getSleep().getSeconds();
      try {
        Thread.sleep(Math.min(seconds * 1000, timeout.toMillis()));
        return null;
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return "interrupted";
      }
    }
    int seconds = (int) Math.max(1, Math.min(Integer.MAX_VALUE, timeout.toSeconds()));
    Probe probe = new ProbeBuilder().withExec(handler.getExec()).withHttpGet(handler.getHttpGet())
        .withTcpSocket(handler.getTcpSocket()).withTimeoutSeconds(seconds).build();
    Prober.Result r = prober.probe(probe, new Prober.Target(podIp, c, pids.applyAsLong(containerId)));
    return r.outcome() == Prober.Outcome.SUCCESS ? null : r.message();
  }
}
