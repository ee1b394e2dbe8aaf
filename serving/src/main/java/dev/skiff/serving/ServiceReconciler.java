package dev.skiff.serving;

import dev.skiff.runtime.Clock;
import dev.skiff.runtime.Controller;
import dev.skiff.runtime.EventRecorder;
import dev.skiff.runtime.Lister;
import dev.skiff.runtime.Result;
import dev.skiff.runtime.SharedInformers;
import dev.skiff.serving.v1.Condition;
import dev.skiff.serving.v1.Configuration;
import dev.skiff.serving.v1.KService;
import dev.skiff.serving.v1.Knative;
import dev.skiff.serving.v1.Route;
import dev.skiff.serving.v1.Spec;
import dev.skiff.serving.v1.Status;
import dev.skiff.serving.v1.TrafficTarget;
import io.fabric8.kubernetes.api.model.ObjectMeta;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * The Service controller (knative.dev/serving pkg/reconciler/service): a Service owns a
 * Configuration and a Route of the same name, carrying its labels (plus
 * {@code serving.knative.dev/service} and {@code serviceUID}) and annotations (the creator and
 * lastModifier among them) and nothing else; the Route's traffic is the Service's with
 * {@code configurationName} set on every target without a revisionName. The Service's status
 * copies the children's (latestCreated/ReadyRevisionName, url, address, traffic) and derives
 * ConfigurationsReady and RoutesReady from theirs: Unknown {@code OutOfDate} until a child has
 * observed its generation, Unknown {@code TrafficNotMigrated} until the Route sends the traffic
 * the spec asks for, {@code NotOwned} when a same-named child belongs to something else. With a
 * bring-your-own revision name the Route is only touched once the Configuration has observed its
 * generation (service.go). Events: Created. Thread-safe (one worker per key).
 */
final class ServiceReconciler {
  private final KubernetesClient client;
  private final EventRecorder recorder;
  private final Clock clock;
  private final Lister<KService> services;
  private final Lister<Configuration> configurations;
  private final Lister<Route> routes;
  private final Controller controller;

  ServiceReconciler(SharedInformers informers, KubernetesClient client, EventRecorder recorder, Clock clock) {
    this.client = client;
    this.recorder = recorder;
    this.clock = clock;
    this.services = informers.informerFor(KService.class).lister();
    this.configurations = informers.informerFor(Configuration.class).lister();
    this.routes = informers.informerFor(Route.class).lister();
    this.controller = Controller.builder("knative-service-controller", informers)
        .watches(KService.class)
        .owns(Configuration.class, KService.class)
        .owns(Route.class, KService.class)
        .clock(clock)
        .workers(2)
        .reconciler(this::reconcile)
        .build();
  }

  Controller controller() {
    return controller;
  }

  Result reconcile(String key) {
    KService svc = services.getByKey(key);
    if (svc == null || Children.deleting(svc)) {
      return Result.done();
    }
    String ns = svc.getMetadata().getNamespace();
    String name = svc.getMetadata().getName();
    Instant now = Instant.ofEpochMilli(clock.currentTimeMillis());
    Status st = svc.getStatus() == null ? new Status() : Knative.copy(svc.getStatus());
    st.setObservedGeneration(svc.getMetadata().getGeneration());

    // Configuration
    Configuration cfg = configurations.get(ns, name);
    Configuration wantCfg = desiredConfiguration(svc);
    if (cfg == null) {
      try {
        cfg = client.resources(Configuration.class).inNamespace(ns).resource(wantCfg).create();
      } catch (KubernetesClientException e) {
        if (e.getCode() == 409) {
          return Result.requeue(); // the cache is behind
        }
        throw e;
      }
      recorder.event(svc, EventRecorder.NORMAL, "Created", "Created Configuration \"%s\"", name);
    } else if (!Children.controlledBy(cfg, svc)) {
      Conditions.set(st, "ConfigurationsReady", "False", "NotOwned",
          "There is an existing Configuration \"" + name + "\" that we do not own.", now);
      cfg = null;
    } else if (differs(cfg.getMetadata(), cfg.getSpec(), wantCfg)) {
      Configuration next = Knative.copy(cfg);
      next.getMetadata().setLabels(wantCfg.getMetadata().getLabels());
      next.getMetadata().setAnnotations(wantCfg.getMetadata().getAnnotations());
      next.setSpec(wantCfg.getSpec());
      cfg = client.resources(Configuration.class).inNamespace(ns).resource(next).update();
    }
    if (cfg != null) {
      propagateConfiguration(st, cfg, now);
    }

    // Route: with a BYO revision name, only once the Configuration has stamped it out.
    Route route = routes.get(ns, name);
    boolean byo = svc.getSpec().getTemplate() != null && svc.getSpec().getTemplate().getMetadata() != null
        && svc.getSpec().getTemplate().getMetadata().getName() != null;
    boolean cfgObserved = cfg != null && cfg.getStatus() != null
        && Objects.equals(cfg.getStatus().getObservedGeneration(), cfg.getMetadata().getGeneration());
    Route wantRoute = desiredRoute(svc);
    if (route == null) {
      if (!byo || cfgObserved) {
        try {
          route = client.resources(Route.class).inNamespace(ns).resource(wantRoute).create();
        } catch (KubernetesClientException e) {
          if (e.getCode() == 409) {
            return Result.requeue();
          }
          throw e;
        }
        recorder.event(svc, EventRecorder.NORMAL, "Created", "Created Route \"%s\"", name);
      }
    } else if (!Children.controlledBy(route, svc)) {
      Conditions.set(st, "RoutesReady", "False", "NotOwned", "There is an existing Route \"" + name + "\" that we do not own.", now);
      route = null;
    } else if (differs(route.getMetadata(), route.getSpec(), wantRoute) && (!byo || cfgObserved)) {
      Route next = Knative.copy(route);
      next.getMetadata().setLabels(wantRoute.getMetadata().getLabels());
      next.getMetadata().setAnnotations(wantRoute.getMetadata().getAnnotations());
      next.setSpec(wantRoute.getSpec());
      route = client.resources(Route.class).inNamespace(ns).resource(next).update();
    }
    if (route != null) {
      propagateRoute(st, route, cfg, now);
    } else if (st.condition("RoutesReady") == null || !"NotOwned".equals(st.condition("RoutesReady").getReason())) {
      Conditions.set(st, "RoutesReady", "Unknown", "OutOfDate", "The Route is still working to reflect the latest desired specification.", now);
    }
    Conditions.ready(st, now, "ConfigurationsReady", "RoutesReady");
    return writeStatus(svc, st);
  }

  private Result writeStatus(KService svc, Status st) {
    return StatusWriter.write(client, KService.class, svc, st, null);
  }

  private static boolean differs(ObjectMeta meta, Spec spec, io.fabric8.kubernetes.client.CustomResource<Spec, Status> want) {
    String a = io.fabric8.kubernetes.client.utils.Serialization.asJson(spec);
    String b = io.fabric8.kubernetes.client.utils.Serialization.asJson(want.getSpec());
    return !a.equals(b) || !Objects.equals(Children.labels(meta.getLabels()), want.getMetadata().getLabels())
        || !Objects.equals(Children.annotations(meta.getAnnotations()), want.getMetadata().getAnnotations())
        || (meta.getAnnotations() != null && meta.getAnnotations().containsKey(Children.LAST_APPLIED));
  }

  /** service/resources/configuration.go MakeConfiguration. */
  static Configuration desiredConfiguration(KService svc) {
    Configuration c = new Configuration();
    ObjectMeta m = new ObjectMeta();
    m.setName(svc.getMetadata().getName());
    m.setNamespace(svc.getMetadata().getNamespace());
    Map<String, String> labels = Children.labels(svc.getMetadata().getLabels());
    labels.put(Knative.SERVICE_LABEL, svc.getMetadata().getName());
    labels.put(Knative.SERVICE_UID_LABEL, svc.getMetadata().getUid());
    m.setLabels(labels);
    m.setAnnotations(Children.annotations(svc.getMetadata().getAnnotations()));
    m.setOwnerReferences(List.of(Children.controllerRef(svc)));
    c.setMetadata(m);
    Spec spec = new Spec();
    spec.setTemplate(Knative.copy(svc.getSpec().getTemplate()));
    c.setSpec(spec);
    return c;
  }

  /** service/resources/route.go MakeRoute. */
  static Route desiredRoute(KService svc) {
    Route r = new Route();
    ObjectMeta m = new ObjectMeta();
    m.setName(svc.getMetadata().getName());
    m.setNamespace(svc.getMetadata().getNamespace());
    Map<String, String> labels = Children.labels(svc.getMetadata().getLabels());
    labels.put(Knative.SERVICE_LABEL, svc.getMetadata().getName());
    m.setLabels(labels);
    m.setAnnotations(Children.annotations(svc.getMetadata().getAnnotations()));
    m.setOwnerReferences(List.of(Children.controllerRef(svc)));
    r.setMetadata(m);
    Spec spec = new Spec();
    List<TrafficTarget> traffic = new ArrayList<>();
    for (TrafficTarget t : svc.getSpec().getTraffic() == null ? List.<TrafficTarget>of() : svc.getSpec().getTraffic()) {
      TrafficTarget c = Knative.copy(t);
      if (c.getRevisionName() == null || c.getRevisionName().isEmpty()) {
        c.setConfigurationName(svc.getMetadata().getName());
      }
      traffic.add(c);
    }
    spec.setTraffic(traffic);
    r.setSpec(spec);
    return r;
  }

  /** service_lifecycle.go PropagateConfigurationStatus. */
  private static void propagateConfiguration(Status st, Configuration cfg, Instant now) {
    Status cs = cfg.getStatus();
    if (cs == null || !Objects.equals(cs.getObservedGeneration(), cfg.getMetadata().getGeneration())) {
      Conditions.set(st, "ConfigurationsReady", "Unknown", "OutOfDate",
          "The Configuration is still working to reflect the latest desired specification.", now);
      return;
    }
    st.setLatestCreatedRevisionName(cs.getLatestCreatedRevisionName());
    st.setLatestReadyRevisionName(cs.getLatestReadyRevisionName());
    copyReady(st, "ConfigurationsReady", cs, now);
  }

  /** service_lifecycle.go PropagateRouteStatus, plus service.go checkRoutesNotReady. */
  private static void propagateRoute(Status st, Route route, Configuration cfg, Instant now) {
    Status rs = route.getStatus();
    if (rs == null || !Objects.equals(rs.getObservedGeneration(), route.getMetadata().getGeneration())) {
      Conditions.set(st, "RoutesReady", "Unknown", "OutOfDate", "The Route is still working to reflect the latest desired specification.", now);
      return;
    }
    st.setUrl(rs.getUrl());
    st.setAddress(rs.getAddress());
    st.setTraffic(rs.getTraffic());
    copyReady(st, "RoutesReady", rs, now);
    if (st.isTrue("RoutesReady") && cfg != null && cfg.getStatus() != null) {
      List<TrafficTarget> want = new ArrayList<>();
      for (TrafficTarget t : route.getSpec().getTraffic() == null ? List.<TrafficTarget>of() : route.getSpec().getTraffic()) {
        TrafficTarget w = Knative.copy(t);
        if (cfg.getMetadata().getName().equals(w.getConfigurationName())) {
          w.setRevisionName(cfg.getStatus().getLatestReadyRevisionName());
          w.setConfigurationName(null);
        }
        want.add(w);
      }
      if (!RouteReconciler.sameTraffic(RouteReconciler.consolidate(want), rs.getTraffic())) {
        Conditions.set(st, "RoutesReady", "Unknown", "TrafficNotMigrated", "Traffic is not yet migrated to the latest revision.", now);
      }
    }
  }

  private static void copyReady(Status st, String type, Status child, Instant now) {
    Condition c = child.condition("Ready");
    if (c == null) {
      Conditions.set(st, type, "Unknown", null, null, now);
    } else {
      Conditions.set(st, type, c.getStatus(), c.getReason(), c.getMessage(), now);
    }
  }

}
