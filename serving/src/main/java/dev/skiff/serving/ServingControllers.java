package dev.skiff.serving;

import dev.skiff.runtime.Clock;
import dev.skiff.runtime.Component;
import dev.skiff.runtime.ComponentContext;
import dev.skiff.runtime.Controller;
import dev.skiff.runtime.LeaderElected;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Knative Serving's controller process (the {@code controller} Deployment of knative-serving), as
 * a {@link Component} named {@code serving}: campaigns for the Lease
 * {@code kube-system/skiff-serving-controller} and, while it leads, runs the
 * {@link ServiceReconciler}, {@link ConfigurationReconciler} (with {@link RevisionGc}),
 * {@link RevisionReconciler} and {@link RouteReconciler} over one set of informers. They talk to
 * the cluster through the Kubernetes API only.
 *
 * <p>Options ({@code --set serving.KEY=VALUE}): {@code leaseDurationSeconds} (15),
 * {@code renewDeadlineSeconds} (10), {@code retryPeriodMillis} (2000); {@code cluster-domain}
 * (cluster.local) is read without prefix too. Thread-safe.
 */
public final class ServingControllers implements Component {
  private static final Logger log = LoggerFactory.getLogger(ServingControllers.class);
  public static final String LEASE_NAMESPACE = LeaderElected.LEASE_NAMESPACE;
  public static final String LEASE_NAME = "skiff-serving-controller";

  private final Clock clock;

  public ServingControllers() {
    this(Clock.system());
  }

  /** With an injected clock (tests: revision garbage collection). */
  public ServingControllers(Clock clock) {
    this.clock = clock;
  }

  @Override
  public String name() {
    return "serving";
  }

  @Override
  public LeaderElected start(ComponentContext context) {
    KubernetesClient client = context.client();
    Map<String, String> options = context.options() == null ? Map.of() : context.options();
    String domainOpt = LeaderElected.option(options, name(), "cluster-domain");
    String clusterDomain = domainOpt == null ? "cluster.local" : domainOpt;
    return LeaderElected.start(client, LEASE_NAME, context.nodeName(), options, name(), "controller", clock,
        (informers, recorder) -> {
          List<Controller> controllers = List.of(
              new ServiceReconciler(informers, client, recorder, clock).controller(),
              new ConfigurationReconciler(informers, client, recorder, clock).controller(),
              new RevisionReconciler(informers, client, recorder, clock, options).controller(),
              new RouteReconciler(informers, client, recorder, clock, clusterDomain).controller());
          controllers.forEach(Controller::start);
          log.info("serving controllers started");
          return () -> {
            for (Controller c : controllers) {
              c.stop(Duration.ofSeconds(5));
            }
          };
        });
  }
}
