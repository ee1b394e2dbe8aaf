package dev.skiff.runtime;

import io.fabric8.kubernetes.client.KubernetesClient;
import java.time.Duration;
import java.util.Map;
import java.util.UUID;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Work that runs only while this process holds a Lease in {@code kube-system}: the shape of
 * kube-controller-manager and Knative's controller process. Each time leadership is won, the
 * {@link Work} gets fresh {@link SharedInformers} and an {@link EventRecorder}; the informers are
 * started once it returns (so every indexer is in place first). Losing the lease stops the work,
 * then the informers and the recorder; a later campaign starts everything afresh, as
 * kube-controller-manager exits and restarts on lost leadership.
 *
 * <p>Timings come from options {@code PREFIX.leaseDurationSeconds} (15),
 * {@code PREFIX.renewDeadlineSeconds} (10) and {@code PREFIX.retryPeriodMillis} (2000), each also
 * accepted without the prefix. Thread-safe.
 */
public final class LeaderElected implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(LeaderElected.class);
  public static final String LEASE_NAMESPACE = "kube-system";

  /** What runs while leading. */
  @FunctionalInterface
  public interface Work {
    /** Builds and starts the work over {@code informers}; returns what stops it. */
    AutoCloseable start(SharedInformers informers, EventRecorder recorder) throws Exception;
  }

  private final KubernetesClient client;
  private final String eventSource;
  private final Clock clock;
  private final Work work;
  private final LeaderElector elector;
  private AutoCloseable running;
  private SharedInformers informers;
  private EventRecorder recorder;
  private boolean closed;

  /**
   * Campaigns for Lease {@code kube-system/leaseName} as {@code <nodeName>_<uuid>}; events are
   * recorded with source component {@code eventSource}.
   */
  public static LeaderElected start(KubernetesClient client, String leaseName, String nodeName,
      Map<String, String> options, String optionPrefix, String eventSource, Clock clock, Work work) {
    LeaderElected le = new LeaderElected(client, leaseName, nodeName, options == null ? Map.of() : options,
        optionPrefix, eventSource, clock, work);
    le.elector.start();
    return le;
  }

  private LeaderElected(KubernetesClient client, String leaseName, String nodeName, Map<String, String> options,
      String prefix, String eventSource, Clock clock, Work work) {
    this.client = client;
    this.eventSource = eventSource;
    this.clock = clock;
    this.work = work;
    this.elector = LeaderElector.builder(client, LEASE_NAMESPACE, leaseName)
        .identity((nodeName == null ? "skiff" : nodeName) + "_" + UUID.randomUUID())
        .leaseDuration(Duration.ofSeconds(intOption(options, prefix, "leaseDurationSeconds", 15)))
        .renewDeadline(Duration.ofSeconds(intOption(options, prefix, "renewDeadlineSeconds", 10)))
        .retryPeriod(Duration.ofMillis(intOption(options, prefix, "retryPeriodMillis", 2000)))
        .onStartedLeading(this::startWork)
        .onStoppedLeading(this::stopWork)
        .build();
  }

  /** {@code options[prefix.key]}, else {@code options[key]}, else null. */
  public static String option(Map<String, String> options, String prefix, String key) {
    String v = options.get(prefix + "." + key);
    return v != null ? v : options.get(key);
  }

  private static int intOption(Map<String, String> options, String prefix, String key, int def) {
    String v = option(options, prefix, key);
    return v == null ? def : Integer.parseInt(v.trim());
  }

  /** True while this process holds the lease. */
  public boolean isLeader() {
    return elector.isLeader();
  }

  public String identity() {
    return elector.identity();
  }

  private synchronized void startWork() {
    if (closed) {
      return;
    }
    informers = new SharedInformers(client);
    recorder = new EventRecorder(client, eventSource, elector.identity(), clock);
    try {
      running = work.start(informers, recorder);
    } catch (Exception e) {
      log.error("{}: work failed to start while leading", eventSource, e);
    }
    informers.start();
  }

  private synchronized void stopWork() {
    if (running != null) {
      try {
        running.close();
      } catch (Exception e) {
        log.warn("{}: stopping: {}", eventSource, e.toString());
      }
      running = null;
    }
    if (informers != null) {
      informers.close();
      informers = null;
    }
    if (recorder != null) {
      recorder.close();
      recorder = null;
    }
  }

  /**
   * Stops as a crashed process would: the work stops but the lease is not released, so a standby
   * takes over only once it expires.
   */
  public void abandon() throws InterruptedException {
    synchronized (this) {
      closed = true;
    }
    elector.abandon();
    stopWork();
  }

  @Override
  public void close() throws InterruptedException {
    synchronized (this) {
      closed = true;
    }
    elector.stop(); // releases the lease; onStoppedLeading stops the work
    stopWork();
  }
}
