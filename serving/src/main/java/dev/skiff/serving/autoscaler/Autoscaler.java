package dev.skiff.serving.autoscaler;

import dev.skiff.runtime.Clock;
import dev.skiff.runtime.EventRecorder;
import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.api.model.autoscaling.v1.ScaleBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.informers.ResourceEventHandler;
import io.fabric8.kubernetes.client.informers.SharedIndexInformer;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The Knative Pod Autoscaler (KPA) for every Revision: scrapes the gateway's measurements every
 * second into per-revision windows, decides every 2 s ({@link KpaDecider}), applies min/max
 * scale, initial scale and scale to zero (after the stable window without traffic plus the
 * scale-to-zero grace period), and sets {@code spec.replicas} of the Revision's Deployment
 * {@code <rev>-deployment} through its scale subresource. Each change is recorded as an Event on
 * the Revision (reason {@code ScaledUp}, {@code ScaledDown} or {@code ScaledToZero}) so
 * {@code kubectl describe revision} shows it. {@link #activate} scales a revision at zero up at
 * once (the activator's poke, not at the next tick). Cluster defaults come from ConfigMap
 * knative-serving/config-autoscaler and apply from the next tick when it changes.
 *
 * <p>Leading: every gateway has an Autoscaler, but only the one told to {@link #lead} (the
 * holder of Lease knative-serving/autoscaler, {@link AutoscalerElection}) scrapes, decides and
 * writes; a follower only activates. A new leader starts from the current Deployments with empty
 * windows and scales nothing down before a full stable window of its own data (Knative's
 * autoscaler waits for data after a restart too), so a leader change never scales a revision in
 * use to zero. {@link #activate} works on any gateway: it scales a Deployment at zero with a
 * write conditioned on the resourceVersion it saw, so concurrent activators and the leader never
 * undo each other; the leader treats any 0 -> N change it did not write as an activation.
 *
 * <p>Thread-safety: all scaling state is confined to one scheduler thread; {@link #activate},
 * {@link #lead} and {@link #follow} may be called from any thread.
 */
public final class Autoscaler implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(Autoscaler.class);
  static final long TICK_MS = 2000;
  static final long SCRAPE_MS = 1000;
  static final String REVISION_LABEL = "serving.knative.dev/revision";
  private static final String DEPLOYMENT_SUFFIX = "-deployment";

  private final KubernetesClient client;
  private final ScalingInputs inputs;
  private final Clock clock;
  private final EventRecorder events;
  private final ScheduledExecutorService exec;
  private final Map<String, RevisionScaler> scalers = new HashMap<>();
  private volatile AutoscalerConfig config = AutoscalerConfig.defaults();
  /** Whether this autoscaler may decide and write now (the elector's view of the Lease). */
  private volatile BooleanSupplier leading = () -> false;
  private long leadingSinceMs;
  private SharedIndexInformer<Deployment> deployments;
  private SharedIndexInformer<ConfigMap> configMap;

  public Autoscaler(KubernetesClient client, ScalingInputs inputs, Clock clock) {
    this.client = client;
    this.inputs = inputs;
    this.clock = clock;
    this.events = new EventRecorder(client, "autoscaler", null, clock);
    this.exec = Executors.newSingleThreadScheduledExecutor(r -> {
      Thread t = new Thread(r, "kpa-autoscaler");
      t.setDaemon(true);
      return t;
    });
  }

  /** Starts the informers (Deployments, config-autoscaler) and the scrape and decision loops. */
  public Autoscaler start() {
    deployments = client.apps().deployments().inAnyNamespace().inform(new ResourceEventHandler<>() {
      @Override
      public void onAdd(Deployment d) {
        maybeWarm(d);
      }

      @Override
      public void onUpdate(Deployment o, Deployment d) {
        maybeWarm(d);
        if (o.getSpec() != null && d.getSpec() != null && replicas(o) == 0 && replicas(d) > 0
            && d.getMetadata().getName().endsWith(DEPLOYMENT_SUFFIX)) {
          exec.execute(() -> scaledFromZero(d));
        }
      }

      @Override
      public void onDelete(Deployment d, boolean unknown) {}
    });
    configMap = client.configMaps().inNamespace(AutoscalerConfig.NAMESPACE).withName(AutoscalerConfig.CONFIG_MAP)
        .inform(new ResourceEventHandler<>() {
          @Override
          public void onAdd(ConfigMap cm) {
            config = AutoscalerConfig.fromConfigMap(cm.getData());
          }

          @Override
          public void onUpdate(ConfigMap o, ConfigMap cm) {
            config = AutoscalerConfig.fromConfigMap(cm.getData());
          }

          @Override
          public void onDelete(ConfigMap cm, boolean unknown) {
            config = AutoscalerConfig.defaults();
          }
        });
    exec.scheduleAtFixedRate(this::safeScrape, SCRAPE_MS, SCRAPE_MS, TimeUnit.MILLISECONDS);
    exec.scheduleAtFixedRate(this::safeTick, TICK_MS, TICK_MS, TimeUnit.MILLISECONDS);
    return this;
  }

  private final java.util.concurrent.atomic.AtomicBoolean warmed = new java.util.concurrent.atomic.AtomicBoolean();
  private volatile boolean warmUpDone;

  /** True once the activation warm-up's dry-run writes succeeded (see {@link #maybeWarm}); for tests and diagnostics. */
  public boolean activationWarmedUp() {
    return warmUpDone;
  }

  /**
   * The first activation on a fresh server was the slowest (the cold-start bench's first sample:
   * request -> pod created ~120 ms instead of ~25): its scale-up write and the first pod create
   * run through API server and client code nothing had run yet (class loading, interpreted
   * code). So the first time a revision's Deployment is seen at zero, both writes are made once
   * with {@code dryRun=All} (validated, admitted and defaulted like the real ones, never stored):
   * the Deployment at 1 replica and a pod from its template. Once per autoscaler, off the
   * informer's thread; failures only cost the warm-up.
   */
  private void maybeWarm(Deployment d) {
    if (warmed.get() || d.getSpec() == null || d.getSpec().getReplicas() == null || d.getSpec().getReplicas() != 0
        || d.getSpec().getTemplate() == null || d.getSpec().getTemplate().getMetadata() == null
        || d.getSpec().getTemplate().getMetadata().getLabels() == null
        || !d.getSpec().getTemplate().getMetadata().getLabels().containsKey(REVISION_LABEL)
        || !warmed.compareAndSet(false, true)) {
      return;
    }
    Thread.ofVirtual().name("autoscaler-warmup").start(() -> {
      String ns = d.getMetadata().getNamespace();
      long t0 = System.nanoTime();
      try {
        // The activation's own request: a PUT of the scale subresource (fabric8's scale(Scale)
        // has no dry-run form, hence the raw request).
        String name = d.getMetadata().getName();
        java.net.URL url = new java.net.URL(client.getMasterUrl(),
            "apis/apps/v1/namespaces/" + ns + "/deployments/" + name + "/scale?dryRun=All");
        client.raw(url.toString(), "PUT", new ScaleBuilder().withNewMetadata().withName(name).withNamespace(ns).endMetadata()
            .withNewSpec().withReplicas(1).endSpec().build());
        var template = d.getSpec().getTemplate();
        io.fabric8.kubernetes.api.model.Pod pod = new io.fabric8.kubernetes.api.model.PodBuilder()
            .withNewMetadata().withGenerateName(d.getMetadata().getName() + "-warmup-").withNamespace(ns)
            .withLabels(template.getMetadata() == null ? null : template.getMetadata().getLabels()).endMetadata()
            .withSpec(template.getSpec()).build();
        client.pods().inNamespace(ns).resource(pod).dryRun().create();
        log.info("activation warm-up: dry-run scale-up of {}/{} and pod create took {} ms", ns, d.getMetadata().getName(),
            (System.nanoTime() - t0) / 1_000_000);
        warmUpDone = true;
      } catch (RuntimeException | java.net.MalformedURLException e) {
        log.info("activation warm-up on {}/{} failed: {}", ns, d.getMetadata().getName(), e.toString());
      }
    });
  }

  /**
   * Starts leading: from now until {@link #follow}, and while {@code holdsLease} answers true
   * (checked before every write, so a lost Lease stops writes at once), this autoscaler scrapes,
   * decides and writes. State from before (if it led earlier) is dropped.
   */
  public void lead(BooleanSupplier holdsLease) {
    exec.execute(() -> {
      scalers.clear();
      leadingSinceMs = nowMs();
      leading = holdsLease;
      log.info("autoscaler leading: scaling every revision (no scale-down before a full stable window)");
    });
  }

  /** Stops leading at once: no more decisions or scale writes; {@link #activate} still works. */
  public void follow() {
    leading = () -> false;
    exec.execute(scalers::clear);
  }

  /** Whether this autoscaler is leading now. */
  public boolean isLeading() {
    return leading.getAsBoolean();
  }

  /**
   * A Deployment went from 0 to some replicas: if this autoscaler leads and did not write that
   * itself, another gateway activated it; keep it up like an own activation (no scale to zero
   * before the stable window and grace period have passed, not undone before its pod is up).
   */
  private void scaledFromZero(Deployment d) {
    if (!isLeading()) {
      return;
    }
    String name = d.getMetadata().getName();
    RevisionScaler s = scaler(d.getMetadata().getNamespace(), name.substring(0, name.length() - DEPLOYMENT_SUFFIX.length()));
    s.lastActiveMs = nowMs();
    if (s.requested != replicas(d)) {
      s.activating = true;
      s.requested = replicas(d);
    }
  }

  /** The cluster defaults currently in force. */
  public AutoscalerConfig config() {
    return config;
  }

  /**
   * Asks for at least one pod of a revision now (the activator calls this when a request arrives
   * for a revision without ready pods), whether or not this autoscaler leads. Scales the
   * Deployment from zero to max(1, min-scale, activation-scale) capped by max-scale, with a
   * write conditioned on the Deployment's resourceVersion: if another gateway or the leader
   * changed it meanwhile, re-reads and does nothing if it is no longer at zero. Idempotent;
   * returns at once.
   */
  public void activate(String namespace, String revision) {
    exec.execute(() -> {
      try {
        RevisionScaler s = scaler(namespace, revision);
        s.lastActiveMs = nowMs();
        Deployment d = deployment(namespace, revision);
        if (d == null) {
          return;
        }
        String seenRv = d.getMetadata().getResourceVersion();
        // The informer may lag behind this leader's own write to zero: requested says zero.
        boolean atZero = replicas(d) == 0 || (isLeading() && s.requested == 0);
        // activating is cleared by the leader's tick once a pod is Ready; a follower has no tick.
        if (!atZero || (isLeading() && s.activating) || seenRv.equals(s.activatedFrom)) {
          return; // up, or already activated from this very version
        }
        GenericKubernetesResource rev = findRevision(namespace, revision);
        AutoscalerConfig.Params p = config.resolve(rev == null ? null : rev.getMetadata().getAnnotations(), cc(rev));
        int want = Math.max(1, Math.max(p.minScale(), p.activationScale()));
        if (p.maxScale() > 0) {
          want = Math.min(want, p.maxScale());
        }
        String rv = seenRv;
        for (int attempt = 0; attempt < 3 && rv != null; attempt++) {
          try {
            scaleIf(namespace, revision, want, rv);
            s.activatedFrom = seenRv;
            s.activating = true;
            s.requested = want;
            record(rev, namespace, revision, "ScaledUp", "activating from zero: a request is waiting; desired scale %d".formatted(want));
            return;
          } catch (KubernetesClientException e) {
            if (e.getCode() != 409) {
              throw e;
            }
            Deployment fresh = client.apps().deployments().inNamespace(namespace).withName(deploymentName(revision)).get();
            if (fresh == null || replicas(fresh) > 0) {
              s.activatedFrom = seenRv; // someone else activated it
              return;
            }
            rv = fresh.getMetadata().getResourceVersion();
          }
        }
      } catch (RuntimeException e) {
        log.warn("activating {}/{} failed: {}", namespace, revision, e.toString());
      }
    });
  }

  private long nowMs() {
    return clock.nanoTime() / 1_000_000;
  }

  private void safeScrape() {
    if (!isLeading()) {
      return;
    }
    try {
      inputs.beginScrape();
      long now = nowMs();
      Set<String> seen = new HashSet<>();
      for (GenericKubernetesResource rev : inputs.revisions()) {
        String ns = rev.getMetadata().getNamespace();
        String name = rev.getMetadata().getName();
        seen.add(ns + "/" + name);
        RevisionScaler s = scaler(ns, name);
        ScalingInputs.Sample sample = inputs.scrape(ns, name);
        double rps = sample.requests() * 1000.0 / Math.max(1, now - s.lastScrapeMs);
        s.lastScrapeMs = now;
        s.concurrency.record(now, sample.averageConcurrency());
        s.rps.record(now, rps);
        if (sample.averageConcurrency() > 0 || sample.requests() > 0) {
          s.lastActiveMs = now;
        }
      }
      scalers.keySet().retainAll(seen);
    } catch (RuntimeException e) {
      log.warn("scrape failed: {}", e.toString());
    }
  }

  private void safeTick() {
    if (!isLeading()) {
      return;
    }
    for (GenericKubernetesResource rev : inputs.revisions()) {
      try {
        tick(rev);
      } catch (KubernetesClientException e) {
        log.debug("scaling {} failed: {}", rev.getMetadata().getName(), e.toString());
      } catch (RuntimeException e) {
        log.warn("scaling {} failed", rev.getMetadata().getName(), e);
      }
    }
  }

  private void tick(GenericKubernetesResource rev) {
    String ns = rev.getMetadata().getNamespace();
    String name = rev.getMetadata().getName();
    Deployment d = deployment(ns, name);
    if (d == null || rev.getMetadata().getDeletionTimestamp() != null) {
      return;
    }
    RevisionScaler s = scaler(ns, name);
    AutoscalerConfig.Params p = config.resolve(rev.getMetadata().getAnnotations(), cc(rev));
    long now = nowMs();
    int ready = inputs.readyPods(ns, name);
    boolean reachable = inputs.reachable(ns, name);
    int current = replicas(d);
    MetricWindow w = p.metric().equals("rps") ? s.rps : s.concurrency;
    KpaDecider.Decision dec = s.decider.decide(p, now, w.average(now, p.stableWindow().toMillis()),
        w.average(now, p.panicWindow().toMillis()), ready, reachable);
    int desired = dec.desired();
    if (ready >= p.initialScale() || current == 0) {
      s.initialized = true;
    }
    if (!s.initialized && reachable) {
      desired = Math.max(desired, p.initialScale()); // initial scale acts as min until reached once
    }
    if (s.activating && ready > 0) {
      s.activating = false;
    }
    if (s.activating) {
      desired = Math.max(desired, current); // a pending activation is not undone before its pod is up
    }
    if (reachable) {
      desired = Math.max(desired, p.minScale()); // min-scale is ignored for unrouted revisions
    }
    if (now - leadingSinceMs < p.stableWindow().toMillis()) {
      // A new leader's windows hold less than a stable window of data (Knative's autoscaler
      // also waits for data after a restart): it may scale up, never down, until they are full.
      desired = Math.max(desired, current);
    }
    if (current > 0 && s.requested == 0) {
      // This leader wrote 0 and sees replicas: its informer lags, or another gateway activated
      // the revision and scaledFromZero has not run yet. Either way, decide on the next tick.
      desired = Math.max(desired, current);
    }
    if (desired == 0 && current > 0) {
      // Scale to zero only after the stable window without traffic plus the grace period
      // (kpa.go handleScaleToZero: the PA stays Active a stable window, then the grace period).
      long idle = now - s.lastActiveMs;
      long need = p.stableWindow().toMillis() + Math.max(p.scaleToZeroGracePeriod().toMillis(), p.scaleToZeroPodRetention().toMillis());
      // Not while a live gateway went unread this round: traffic through it would be invisible.
      if (!p.enableScaleToZero() || idle < need || !inputs.complete()) {
        desired = 1;
      }
    }
    if (p.maxScale() > 0) {
      desired = Math.min(desired, p.maxScale());
    }
    if (desired == current) {
      return;
    }
    String reason = desired == 0 ? "ScaledToZero" : desired > current ? "ScaledUp" : "ScaledDown";
    String msg = "desired scale %d (was %d, %d ready): observed stable %s %.2f, panic %.2f, panic mode %s, target %.2f per pod"
        .formatted(desired, current, ready, p.metric(), dec.observedStable(), dec.observedPanic(), dec.panicking(), p.target());
    scale(rev, ns, name, desired, reason, msg);
  }

  private void scale(GenericKubernetesResource rev, String ns, String name, int replicas, String reason, String message) {
    if (!isLeading()) {
      return; // the Lease was lost since the tick started
    }
    // One unconditional PUT of the scale subresource (fabric8's scale(int) is a GET plus a PUT):
    // the leading autoscaler owns spec.replicas.
    scaleIf(ns, name, replicas, null);
    scaler(ns, name).requested = replicas;
    record(rev, ns, name, reason, message);
  }

  /** PUT of the scale subresource; with {@code resourceVersion}, a 409 if the Deployment changed since. */
  private void scaleIf(String ns, String name, int replicas, String resourceVersion) {
    client.apps().deployments().inNamespace(ns).withName(deploymentName(name)).scale(new ScaleBuilder()
        .withNewMetadata().withName(deploymentName(name)).withNamespace(ns).withResourceVersion(resourceVersion).endMetadata()
        .withNewSpec().withReplicas(replicas).endSpec().build());
  }

  private void record(GenericKubernetesResource rev, String ns, String name, String reason, String message) {
    log.info("{}/{}: {} {}", ns, name, reason, message);
    if (rev != null) {
      events.event(rev, EventRecorder.NORMAL, reason, "%s", message);
    }
  }

  private GenericKubernetesResource findRevision(String ns, String name) {
    for (GenericKubernetesResource r : inputs.revisions()) {
      if (ns.equals(r.getMetadata().getNamespace()) && name.equals(r.getMetadata().getName())) {
        return r;
      }
    }
    return null;
  }

  private RevisionScaler scaler(String ns, String name) {
    return scalers.computeIfAbsent(ns + "/" + name, k -> {
      RevisionScaler s = new RevisionScaler();
      s.lastActiveMs = nowMs();
      s.lastScrapeMs = nowMs() - SCRAPE_MS;
      return s;
    });
  }

  private Deployment deployment(String ns, String rev) {
    return deployments.getIndexer().getByKey(ns + "/" + deploymentName(rev));
  }

  /** The Deployment the Revision controller creates for a revision (CONTRACTS.md). */
  public static String deploymentName(String revision) {
    return revision + DEPLOYMENT_SUFFIX;
  }

  private static int replicas(Deployment d) {
    Integer r = d.getSpec() == null ? null : d.getSpec().getReplicas();
    return r == null ? 1 : r;
  }

  static long cc(GenericKubernetesResource rev) {
    if (rev == null) {
      return 0;
    }
    Object spec = rev.getAdditionalProperties().get("spec");
    if (spec instanceof Map<?, ?> m && m.get("containerConcurrency") instanceof Number n) {
      return n.longValue();
    }
    return 0;
  }

  @Override
  public void close() {
    exec.shutdownNow();
    try {
      exec.awaitTermination(5, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    if (deployments != null) {
      deployments.close();
    }
    if (configMap != null) {
      configMap.close();
    }
    events.close();
  }

  /** Per-revision state, confined to the scheduler thread. */
  private static final class RevisionScaler {
    final KpaDecider decider = new KpaDecider();
    final MetricWindow concurrency = new MetricWindow(3600);
    final MetricWindow rps = new MetricWindow(3600);
    long lastActiveMs;
    long lastScrapeMs;
    boolean initialized;
    boolean activating;
    int requested = -1; // the last replicas this autoscaler wrote (the informer may lag behind it)
    String activatedFrom; // the Deployment resourceVersion the last activation started from
  }
}
