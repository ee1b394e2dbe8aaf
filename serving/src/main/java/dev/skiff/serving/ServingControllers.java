package dev.skiff.serving;

import dev.skiff.runtime.Clock;
import dev.skiff.runtime.Component;
import dev.skiff.runtime.ComponentContext;
import dev.skiff.runtime.Controller;
import dev.skiff.runtime.EventRecorder;
import dev.skiff.runtime.LeaderElector;
import dev.skiff.runtime.SharedInformers;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
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
  public static final String LEASE_NAMESPACE = "kube-system";
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
  public AutoCloseable start(ComponentContext context) {
    Running r = new Running(context.client(), context.nodeName(), context.options() == null ? Map.of() : context.options(), clock);
    r.elector.start();
    return r;
  }

  /** A started component: its elector and, while it leads, the controllers. */
  public static final class Running implements AutoCloseable {
    private final KubernetesClient client;
    private final Map<String, String> options;
    private final Clock clock;
    private final LeaderElector elector;
    private final List<Controller> controllers = new ArrayList<>();
    private SharedInformers informers;
    private EventRecorder recorder;
    private boolean closed;

    Running(KubernetesClient client, String nodeName, Map<String, String> options, Clock clock) {
      this.client = client;
      this.options = options;
      this.clock = clock;
      this.elector = LeaderElector.builder(client, LEASE_NAMESPACE, LEASE_NAME)
          .identity((nodeName == null ? "skiff" : nodeName) + "_" + UUID.randomUUID())
          .leaseDuration(Duration.ofSeconds(intOpt("leaseDurationSeconds", 15)))
          .renewDeadline(Duration.ofSeconds(intOpt("renewDeadlineSeconds", 10)))
          .retryPeriod(Duration.ofMillis(intOpt("retryPeriodMillis", 2000)))
          .onStartedLeading(this::startControllers)
          .onStoppedLeading(this::stopControllers)
          .build();
    }

    private String opt(String key) {
      String v = options.get("serving." + key);
      return v != null ? v : options.get(key);
    }

    private int intOpt(String key, int def) {
      String v = opt(key);
      return v == null ? def : Integer.parseInt(v.trim());
    }

    /** True while this process leads. */
    public boolean isLeader() {
      return elector.isLeader();
    }

    private synchronized void startControllers() {
      if (closed) {
        return;
      }
      informers = new SharedInformers(client);
      recorder = new EventRecorder(client, "controller", elector.identity(), clock);
      String clusterDomain = opt("cluster-domain") == null ? "cluster.local" : opt("cluster-domain");
      controllers.add(new ServiceReconciler(informers, client, recorder, clock).controller());
      controllers.add(new ConfigurationReconciler(informers, client, recorder, clock).controller());
      controllers.add(new RevisionReconciler(informers, client, recorder, clock, options).controller());
      controllers.add(new RouteReconciler(informers, client, recorder, clock, clusterDomain).controller());
      informers.start();
      controllers.forEach(Controller::start);
      log.info("serving controllers started");
    }

    private synchronized void stopControllers() {
      for (Controller c : controllers) {
        try {
          c.stop(Duration.ofSeconds(5));
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
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

    @Override
    public void close() throws Exception {
      synchronized (this) {
        closed = true;
      }
      elector.stop();
      stopControllers();
    }
  }
}
