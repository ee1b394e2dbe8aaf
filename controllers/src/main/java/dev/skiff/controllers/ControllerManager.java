package dev.skiff.controllers;

import dev.skiff.runtime.Clock;
import dev.skiff.runtime.Component;
import dev.skiff.runtime.ComponentContext;
import dev.skiff.runtime.EventRecorder;
import dev.skiff.runtime.LeaderElector;
import dev.skiff.runtime.SharedInformers;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.stream.Collectors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The kube-controller-manager of Skiff: a {@link Component} named {@code controllers} that
 * campaigns for the Lease {@code kube-system/skiff-controller-manager} and, only while it leads,
 * runs every controller of {@link Controllers#all()} over one set of {@link SharedInformers}.
 * Losing the lease stops the controllers (and their informers); a later campaign starts them
 * afresh, as kube-controller-manager exits and restarts on lost leadership.
 *
 * <p>Options ({@code --set controllers.KEY=VALUE}, passed without prefix or with it):
 * {@code leaseDurationSeconds} (15), {@code renewDeadlineSeconds} (10), {@code retryPeriodMillis}
 * (2000), {@code disable} (comma-separated controller names). Thread-safe.
 */
public final class ControllerManager implements Component {
  private static final Logger log = LoggerFactory.getLogger(ControllerManager.class);

  /** The Lease that elects the leader among controller managers. */
  public static final String LEASE_NAMESPACE = "kube-system";
  public static final String LEASE_NAME = "skiff-controller-manager";

  private final Clock clock;

  public ControllerManager() {
    this(Clock.system());
  }

  /** With an injected clock (tests); leader election itself uses the real clock. */
  public ControllerManager(Clock clock) {
    this.clock = clock;
  }

  @Override
  public String name() {
    return "controllers";
  }

  @Override
  public AutoCloseable start(ComponentContext context) {
    Running running = new Running(context.client(), context.nodeName(), context.options(), clock);
    running.start();
    return running;
  }

  /** A started manager: its elector and, while leading, its controllers. */
  public static final class Running implements AutoCloseable {
    private final KubernetesClient client;
    private final Map<String, String> options;
    private final Clock clock;
    private final LeaderElector elector;
    private final List<AutoCloseable> controllers = new ArrayList<>();
    private SharedInformers informers;
    private EventRecorder recorder;
    private boolean closed;

    Running(KubernetesClient client, String nodeName, Map<String, String> options, Clock clock) {
      this.client = client;
      this.options = options == null ? Map.of() : options;
      this.clock = clock;
      String identity = (nodeName == null ? "skiff" : nodeName) + "_" + UUID.randomUUID();
      int lease = intOpt("leaseDurationSeconds", 15);
      int renew = intOpt("renewDeadlineSeconds", 10);
      int retry = intOpt("retryPeriodMillis", 2000);
      this.elector = LeaderElector.builder(client, LEASE_NAMESPACE, LEASE_NAME)
          .identity(identity)
          .leaseDuration(Duration.ofSeconds(lease))
          .renewDeadline(Duration.ofSeconds(renew))
          .retryPeriod(Duration.ofMillis(retry))
          .onStartedLeading(this::startControllers)
          .onStoppedLeading(this::stopControllers)
          .build();
    }

    private String opt(String key) {
      String v = options.get("controllers." + key);
      return v != null ? v : options.get(key);
    }

    private int intOpt(String key, int def) {
      String v = opt(key);
      return v == null ? def : Integer.parseInt(v.trim());
    }

    void start() {
      elector.start();
    }

    /** True while this manager holds the lease. */
    public boolean isLeader() {
      return elector.isLeader();
    }

    public String identity() {
      return elector.identity();
    }

    private synchronized void startControllers() {
      if (closed) {
        return;
      }
      String disabledOpt = opt("disable");
      Set<String> disabled = disabledOpt == null ? Set.of()
          : Arrays.stream(disabledOpt.split(",")).map(String::trim).collect(Collectors.toSet());
      informers = new SharedInformers(client);
      recorder = new EventRecorder(client, "controller-manager", elector.identity(), clock);
      ControllerContext ctx = new ControllerContext(client, informers, recorder, clock, options);
      for (Controllers.Entry e : Controllers.all()) {
        if (disabled.contains(e.name())) {
          continue;
        }
        try {
          controllers.add(e.starter().start(ctx));
          log.info("started controller {}", e.name());
        } catch (Exception ex) {
          log.error("controller {} failed to start", e.name(), ex);
        }
      }
      ctx.runStartHooks(); // every constructor ran: indexers are in place before informers start
      informers.start();
    }

    private synchronized void stopControllers() {
      for (int i = controllers.size() - 1; i >= 0; i--) {
        try {
          controllers.get(i).close();
        } catch (Exception e) {
          log.warn("stopping controller: {}", e.toString());
        }
      }
      controllers.clear();
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
     * Stops as a crashed process would: controllers stop but the lease is not released, so a
     * standby takes over only once it expires.
     */
    public void abandon() throws Exception {
      synchronized (this) {
        closed = true;
      }
      elector.abandon();
      stopControllers();
    }

    @Override
    public void close() throws Exception {
      synchronized (this) {
        closed = true;
      }
      elector.stop(); // releases the lease; onStoppedLeading stops the controllers
      stopControllers();
    }
  }
}
