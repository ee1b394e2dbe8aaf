package dev.skiff.runtime;

import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.api.model.coordination.v1.Lease;
import io.fabric8.kubernetes.api.model.coordination.v1.LeaseSpec;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.ZonedDateTime;
import java.util.Objects;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Leader election on a coordination.k8s.io/v1 Lease, with client-go's semantics
 * ({@code tools/leaderelection/leaderelection.go}, {@code resourcelock/leaselock.go}).
 *
 * <p>A candidate tries every retryPeriod (jittered by 1.2) to acquire the Lease: it may take it if
 * it is free ({@code holderIdentity} empty) or if the Lease record has not changed for
 * leaseDuration <em>as observed on this candidate's own clock</em> (so clock skew between
 * candidates does not matter). Every write is an update conditioned on the Lease's
 * resourceVersion, so two candidates can never both succeed. The leader renews every retryPeriod;
 * if it cannot renew within renewDeadline it stops leading. {@link #stop()} releases the Lease
 * (empty holder, leaseDurationSeconds 1) so a successor takes over at once; {@link #abandon()}
 * stops without releasing, as a crashed process would. Defaults: leaseDuration 15 s, renewDeadline
 * 10 s, retryPeriod 2 s.
 *
 * <p>An elector campaigns until {@link #stop()} or {@link #abandon()}: after a lost renewal it
 * stops leading and then tries to acquire again (client-go's Run returns instead, and the
 * process exits to be restarted).
 *
 * <p>Callbacks run one at a time, in order, on a virtual thread of the elector's own;
 * {@code onStoppedLeading} runs after leadership is lost or given up, and the process should then
 * stop doing leader work; a later {@code onStartedLeading} may follow. Thread-safe.
 */
public final class LeaderElector {
  private static final Logger log = LoggerFactory.getLogger(LeaderElector.class);
  private static final double JITTER = 1.2;

  private final KubernetesClient client;
  private final String namespace;
  private final String name;
  private final String identity;
  private final Duration leaseDuration;
  private final Duration renewDeadline;
  private final Duration retryPeriod;
  private final Runnable onStartedLeading;
  private final Runnable onStoppedLeading;
  /** Runs the callbacks one at a time, in order: a stop never overtakes the start before it. */
  private final ExecutorService callbacks;
  private final Clock clock;

  private final CountDownLatch stop = new CountDownLatch(1);
  private volatile boolean release = true;
  private volatile boolean leading;
  private volatile String observedHolder;
  private LeaseSpec observedRecord;
  private long observedTime;
  private Thread thread;

  private LeaderElector(Builder b) {
    if (b.renewDeadline.compareTo(b.leaseDuration) >= 0) {
      throw new IllegalArgumentException("leaseDuration must be greater than renewDeadline");
    }
    if (b.retryPeriod.toMillis() * JITTER >= b.renewDeadline.toMillis()) {
      throw new IllegalArgumentException("renewDeadline must be greater than retryPeriod*1.2");
    }
    if (b.leaseDuration.toSeconds() < 1 || b.leaseDuration.toNanos() % 1_000_000_000L != 0) {
      throw new IllegalArgumentException("leaseDuration must be whole seconds");
    }
    this.client = b.client;
    this.namespace = b.namespace;
    this.name = b.name;
    this.identity = Objects.requireNonNull(b.identity, "identity");
    this.leaseDuration = b.leaseDuration;
    this.renewDeadline = b.renewDeadline;
    this.retryPeriod = b.retryPeriod;
    this.onStartedLeading = b.onStartedLeading;
    this.onStoppedLeading = b.onStoppedLeading;
    this.callbacks = Executors.newSingleThreadExecutor(Thread.ofVirtual().name("leader-callbacks-" + identity).factory());
    this.clock = b.clock;
  }

  public static Builder builder(KubernetesClient client, String namespace, String leaseName) {
    return new Builder(client, namespace, leaseName);
  }

  /** Starts campaigning on a virtual thread. */
  public synchronized void start() {
    if (thread != null) {
      throw new IllegalStateException("already started");
    }
    thread = Thread.ofVirtual().name("leader-elector-" + identity).start(this::run);
  }

  /** Stops; if leading, releases the Lease so another candidate can take over immediately. */
  public void stop() throws InterruptedException {
    halt(true);
  }

  /** Stops without releasing the Lease: others take over once it expires (crash behaviour). */
  public void abandon() throws InterruptedException {
    halt(false);
  }

  private void halt(boolean releaseLease) throws InterruptedException {
    release = releaseLease;
    stop.countDown();
    Thread t;
    synchronized (this) {
      t = thread;
    }
    if (t != null) {
      t.join();
    }
  }

  public boolean isLeader() {
    return leading;
  }

  /** The holder last observed on the Lease (may be stale), or null. */
  public String observedLeader() {
    return observedHolder;
  }

  public String identity() {
    return identity;
  }

  private void run() {
    try {
      // Campaign again after losing: client-go's Run returns and kube-controller-manager or
      // kube-scheduler then exits to be restarted; every Skiff component shares one JVM, so the
      // elector itself goes back to acquiring (a lost renewal must not stop a server's
      // controllers for good).
      while (acquire()) {
        leading = true;
        log.info("{} became leader of lease {}/{}", identity, namespace, name);
        callbacks.execute(onStartedLeading);
        try {
          renew();
        } finally {
          leading = false;
          if (release && stopped()) {
            release();
          }
          log.info("{} stopped leading lease {}/{}", identity, namespace, name);
          callbacks.execute(onStoppedLeading);
        }
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } finally {
      callbacks.shutdown(); // what was queued still runs, in order
    }
  }

  private boolean acquire() throws InterruptedException {
    while (true) {
      if (stopped()) {
        return false;
      }
      if (tryAcquireOrRenew()) {
        return true;
      }
      long base = retryPeriod.toNanos();
      long jittered = base + (long) (ThreadLocalRandom.current().nextDouble() * JITTER * base);
      if (stop.await(jittered, TimeUnit.NANOSECONDS)) {
        return false;
      }
    }
  }

  private void renew() throws InterruptedException {
    while (!stopped()) {
      long deadline = clock.nanoTime() + renewDeadline.toNanos();
      boolean renewed = false;
      while (!stopped()) {
        if (tryAcquireOrRenew()) {
          renewed = true;
          break;
        }
        if (clock.nanoTime() + retryPeriod.toNanos() > deadline) {
          break;
        }
        if (stop.await(retryPeriod.toNanos(), TimeUnit.NANOSECONDS)) {
          return;
        }
      }
      if (!renewed) {
        if (!stopped()) {
          log.warn("{} failed to renew lease {}/{} within {}", identity, namespace, name, renewDeadline);
        }
        return;
      }
      if (stop.await(retryPeriod.toNanos(), TimeUnit.NANOSECONDS)) {
        return;
      }
    }
  }

  private boolean stopped() {
    return stop.getCount() == 0;
  }

  private ZonedDateTime now() {
    // MicroTime on the wire; fabric8 formats ZonedDateTime as yyyy-MM-dd'T'HH:mm:ss.SSSSSS'Z'.
    return Instant.ofEpochMilli(clock.currentTimeMillis()).atZone(ZoneOffset.UTC);
  }

  /** One attempt; true if this candidate holds the Lease afterwards. */
  private boolean tryAcquireOrRenew() {
    ZonedDateTime now = now();
    var leases = client.leases().inNamespace(namespace);
    Lease lease;
    try {
      lease = leases.withName(name).get();
      if (lease == null) {
        Lease created = leases.resource(new Lease("coordination.k8s.io/v1", "Lease",
            new ObjectMetaBuilder().withName(name).withNamespace(namespace).build(),
            new LeaseSpec(now, identity, (int) leaseDuration.toSeconds(), 0, null, now, null))).create();
        observe(created.getSpec());
        return true;
      }
    } catch (KubernetesClientException e) {
      log.debug("{}: lease {}/{} get/create failed: {}", identity, namespace, name, e.getMessage());
      return false;
    }
    LeaseSpec old = lease.getSpec() == null ? new LeaseSpec() : lease.getSpec();
    if (!old.equals(observedRecord)) {
      observe(old);
    }
    String holder = old.getHolderIdentity();
    boolean heldByMe = identity.equals(holder);
    int oldDuration = old.getLeaseDurationSeconds() == null ? 0 : old.getLeaseDurationSeconds();
    if (holder != null && !holder.isEmpty() && !heldByMe
        && observedTime + TimeUnit.SECONDS.toNanos(oldDuration) > clock.nanoTime()) {
      return false; // held by someone else and not yet expired
    }
    int transitions = old.getLeaseTransitions() == null ? 0 : old.getLeaseTransitions();
    LeaseSpec spec = new LeaseSpec(heldByMe ? old.getAcquireTime() : now, identity,
        (int) leaseDuration.toSeconds(), heldByMe ? transitions : transitions + 1, null, now, null);
    lease.setSpec(spec);
    try {
      // update() sends the resourceVersion we read: a concurrent writer makes this a 409.
      Lease updated = leases.resource(lease).update();
      observe(updated.getSpec());
      return true;
    } catch (KubernetesClientException e) {
      log.debug("{}: lease {}/{} update failed: {}", identity, namespace, name, e.getMessage());
      return false;
    }
  }

  private void observe(LeaseSpec spec) {
    observedRecord = spec;
    observedTime = clock.nanoTime();
    observedHolder = spec.getHolderIdentity();
  }

  private void release() {
    try {
      Lease lease = client.leases().inNamespace(namespace).withName(name).get();
      if (lease == null || lease.getSpec() == null || !identity.equals(lease.getSpec().getHolderIdentity())) {
        return;
      }
      ZonedDateTime now = now();
      // leaderelection.go release(): holder cleared, duration 1 s, transitions kept.
      lease.setSpec(new LeaseSpec(now, "", 1, lease.getSpec().getLeaseTransitions(), null, now, null));
      client.leases().inNamespace(namespace).resource(lease).update();
      observedHolder = "";
    } catch (KubernetesClientException e) {
      log.warn("{}: failed to release lease {}/{}: {}", identity, namespace, name, e.getMessage());
    }
  }

  /** Configures a {@link LeaderElector}. Not thread-safe. */
  public static final class Builder {
    private final KubernetesClient client;
    private final String namespace;
    private final String name;
    private String identity;
    private Duration leaseDuration = Duration.ofSeconds(15);
    private Duration renewDeadline = Duration.ofSeconds(10);
    private Duration retryPeriod = Duration.ofSeconds(2);
    private Runnable onStartedLeading = () -> { };
    private Runnable onStoppedLeading = () -> { };
    private Clock clock = Clock.system();

    private Builder(KubernetesClient client, String namespace, String name) {
      this.client = client;
      this.namespace = namespace;
      this.name = name;
    }

    /** Unique per candidate (e.g. hostname + "_" + a random UUID). */
    public Builder identity(String identity) {
      this.identity = identity;
      return this;
    }

    public Builder leaseDuration(Duration d) {
      this.leaseDuration = d;
      return this;
    }

    /**
     * Lease duration {@code lease}, with the renew deadline and retry period in client-go's
     * default proportions (15 / 10 / 2 s): 2/3 and 1/7 of it (at least 100 ms).
     */
    public Builder timings(Duration lease) {
      Duration retry = lease.dividedBy(7);
      return leaseDuration(lease).renewDeadline(lease.multipliedBy(2).dividedBy(3))
          .retryPeriod(retry.toMillis() < 100 ? Duration.ofMillis(100) : retry);
    }

    public Builder renewDeadline(Duration d) {
      this.renewDeadline = d;
      return this;
    }

    public Builder retryPeriod(Duration d) {
      this.retryPeriod = d;
      return this;
    }

    public Builder onStartedLeading(Runnable r) {
      this.onStartedLeading = r;
      return this;
    }

    public Builder onStoppedLeading(Runnable r) {
      this.onStoppedLeading = r;
      return this;
    }

    public Builder clock(Clock clock) {
      this.clock = clock;
      return this;
    }

    public LeaderElector build() {
      return new LeaderElector(this);
    }
  }
}
