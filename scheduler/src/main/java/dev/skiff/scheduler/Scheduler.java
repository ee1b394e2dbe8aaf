package dev.skiff.scheduler;

import dev.skiff.runtime.Component;
import dev.skiff.runtime.ComponentContext;
import dev.skiff.runtime.LeaderElector;
import java.time.Duration;
import java.util.UUID;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The {@code scheduler} component: a {@link SchedulerEngine} that keeps its informers warm on every
 * server but schedules only while it holds the Lease {@code kube-system/skiff-scheduler}, so two
 * servers never both schedule. Options: {@code scheduler.leaseDurationSeconds} (default 15),
 * {@code scheduler.percentageOfNodesToScore} (default 0 = upstream's adaptive rule).
 */
public final class Scheduler implements Component {
  private static final Logger log = LoggerFactory.getLogger(Scheduler.class);
  public static final String LEASE_NAMESPACE = "kube-system";
  public static final String LEASE_NAME = "skiff-scheduler";

  @Override
  public String name() {
    return "scheduler";
  }

  @Override
  public Running start(ComponentContext ctx) {
    int pct = Integer.parseInt(ctx.options().getOrDefault("scheduler.percentageOfNodesToScore", "0"));
    int leaseSeconds = Integer.parseInt(ctx.options().getOrDefault("scheduler.leaseDurationSeconds", "15"));
    SchedulerEngine engine = new SchedulerEngine(ctx.client(), new dev.skiff.runtime.SharedInformers(ctx.client()), true,
        dev.skiff.runtime.Clock.system(), pct);
    String identity = ctx.nodeName() + "_" + UUID.randomUUID();
    Running r = new Running(engine, ctx, identity, Duration.ofSeconds(leaseSeconds));
    // Informers sync off the caller's thread: start() must not block for long.
    Thread.ofVirtual().name("scheduler-start").start(() -> {
      try {
        engine.start();
        r.campaign();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    });
    return r;
  }

  /** A started scheduler: {@link #close} releases the Lease; {@link #crash} abandons it. Thread-safe. */
  public static final class Running implements AutoCloseable {
    private final SchedulerEngine engine;
    private final ComponentContext ctx;
    private final String identity;
    private final Duration lease;
    private volatile boolean closed;
    private LeaderElector elector;

    Running(SchedulerEngine engine, ComponentContext ctx, String identity, Duration lease) {
      this.engine = engine;
      this.ctx = ctx;
      this.identity = identity;
      this.lease = lease;
    }

    /**
     * Campaigns for the Lease, and again after losing it (a failed renewal): kube-scheduler exits
     * instead and is restarted.
     */
    synchronized void campaign() {
      if (closed) {
        return;
      }
      elector = LeaderElector.builder(ctx.client(), LEASE_NAMESPACE, LEASE_NAME)
          .identity(identity)
          .timings(lease)
          .onStartedLeading(() -> {
            log.info("{} is leading: scheduling", identity);
            engine.startScheduling();
          })
          .onStoppedLeading(() -> {
            log.info("{} stopped leading", identity);
            engine.stopScheduling();
          })
          .build();
      elector.start();
    }

    public SchedulerEngine engine() {
      return engine;
    }

    public synchronized boolean isLeader() {
      return elector != null && elector.isLeader();
    }

    /** Stops like a killed process: scheduling ends, the Lease is left to expire. */
    public void crash() throws InterruptedException {
      halt(false);
    }

    /** Stops scheduling and releases the Lease so another server takes over at once. */
    @Override
    public void close() throws InterruptedException {
      halt(true);
    }

    private void halt(boolean release) throws InterruptedException {
      LeaderElector e;
      synchronized (this) {
        closed = true;
        e = elector;
      }
      engine.stopScheduling();
      if (e != null) {
        if (release) {
          e.stop();
        } else {
          e.abandon();
        }
      }
      engine.close();
    }
  }
}
