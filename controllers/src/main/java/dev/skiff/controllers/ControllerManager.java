package dev.skiff.controllers;

import dev.skiff.runtime.Clock;
import dev.skiff.runtime.Component;
import dev.skiff.runtime.ComponentContext;
import dev.skiff.runtime.EventRecorder;
import dev.skiff.runtime.LeaderElected;
import dev.skiff.runtime.SharedInformers;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The kube-controller-manager of Skiff: a {@link Component} named {@code controllers} that
 * campaigns for the Lease {@code kube-system/skiff-controller-manager} and, only while it leads
 * ({@link LeaderElected}), runs every controller of {@link Controllers#all()} over one set of
 * {@link SharedInformers}.
 *
 * <p>Options ({@code --set controllers.KEY=VALUE}, passed without prefix or with it):
 * {@code leaseDurationSeconds} (15), {@code renewDeadlineSeconds} (10), {@code retryPeriodMillis}
 * (2000), {@code disable} (comma-separated controller names). Thread-safe.
 */
public final class ControllerManager implements Component {
  private static final Logger log = LoggerFactory.getLogger(ControllerManager.class);

  /** The Lease that elects the leader among controller managers. */
  public static final String LEASE_NAMESPACE = LeaderElected.LEASE_NAMESPACE;
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
  public LeaderElected start(ComponentContext context) {
    KubernetesClient client = context.client();
    Map<String, String> options = context.options() == null ? Map.of() : context.options();
    return LeaderElected.start(client, LEASE_NAME, context.nodeName(), options, name(), "controller-manager", clock,
        (informers, recorder) -> startControllers(client, informers, recorder, options));
  }

  private AutoCloseable startControllers(KubernetesClient client, SharedInformers informers, EventRecorder recorder,
      Map<String, String> options) {
    String disabledOpt = LeaderElected.option(options, name(), "disable");
    Set<String> disabled = disabledOpt == null ? Set.of()
        : Arrays.stream(disabledOpt.split(",")).map(String::trim).collect(Collectors.toSet());
    ControllerContext ctx = new ControllerContext(client, informers, recorder, clock, options);
    List<AutoCloseable> controllers = new ArrayList<>();
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
    return () -> {
      for (int i = controllers.size() - 1; i >= 0; i--) {
        try {
          controllers.get(i).close();
        } catch (Exception e) {
          log.warn("stopping controller: {}", e.toString());
        }
      }
    };
  }
}
