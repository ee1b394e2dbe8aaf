package dev.skiff.runtime;

import static org.assertj.core.api.Assertions.assertThat;

import dev.skiff.apiserver.testing.TestServer;
import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.ConfigMapBuilder;
import io.fabric8.kubernetes.api.model.ListOptionsBuilder;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.Watch;
import io.fabric8.kubernetes.client.Watcher;
import io.fabric8.kubernetes.client.WatcherException;
import io.fabric8.kubernetes.client.jdkhttp.JdkHttpClientFactory;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * fabric8 over every transport against Skiff: vert.x (fabric8's default, HTTP/1.1 over TLS), the
 * JDK HttpClient (HTTP/2 negotiated by ALPN) and the in-JVM one (no connection).
 */
class TransportTest {
  static TestServer server;

  @BeforeAll
  static void start() throws Exception {
    server = TestServer.start();
  }

  @AfterAll
  static void stop() throws Exception {
    server.close();
  }

  static KubernetesClient client(String transport) {
    if (transport.equals("in-jvm")) {
      return Clients.inProcess(server.kubeconfig(), new InJvmApi(server.server()));
    }
    return Clients.forKubeconfig(server.kubeconfig(),
        transport.equals("jdk") ? new JdkHttpClientFactory() : new io.fabric8.kubernetes.client.vertx.VertxHttpClientFactory());
  }

  @ParameterizedTest
  @ValueSource(strings = {"vertx", "jdk", "in-jvm"})
  void crudWatchAndInformer(String transport) throws Exception {
    String ns = "t-" + transport;
    try (KubernetesClient client = client(transport)) {
      client.namespaces().resource(new NamespaceBuilder().withNewMetadata().withName(ns).endMetadata().build()).create();
      var cms = client.configMaps().inNamespace(ns);
      ConfigMap first = cms.resource(new ConfigMapBuilder().withNewMetadata().withName("a").endMetadata()
          .withData(Map.of("k", "1")).build()).create();

      List<String> events = new CopyOnWriteArrayList<>();
      Watch watch = cms.watch(new ListOptionsBuilder().withResourceVersion(first.getMetadata().getResourceVersion())
          .withAllowWatchBookmarks(true).build(), new Watcher<ConfigMap>() {
            @Override
            public void eventReceived(Action action, ConfigMap cm) {
              events.add(action + " " + cm.getMetadata().getName() + " " + (cm.getData() == null ? null : cm.getData().get("k")));
            }

            @Override
            public void onClose(WatcherException cause) {
            }
          });
      try {
        cms.withName("a").edit(cm -> new ConfigMapBuilder(cm).withData(Map.of("k", "2")).build());
        cms.resource(new ConfigMapBuilder().withNewMetadata().withName("b").endMetadata().withData(Map.of("k", "3")).build()).create();
        cms.withName("a").delete();
        List<String> want = List.of("MODIFIED a 2", "ADDED b 3", "DELETED a 2");
        assertThat(Poll.until(Duration.ofSeconds(10), () -> events.size() >= 3)).as(events.toString()).isTrue();
        assertThat(events).containsExactlyElementsOf(want);
      } finally {
        watch.close();
      }

      try (SharedInformers informers = new SharedInformers(client)) {
        Informer<ConfigMap> inf = informers.informerFor(ConfigMap.class);
        informers.start();
        assertThat(informers.waitForCacheSync(Duration.ofSeconds(10))).isTrue();
        assertThat(inf.lister().list(ns)).extracting(c -> c.getMetadata().getName()).containsExactly("b");
        cms.resource(new ConfigMapBuilder().withNewMetadata().withName("c").endMetadata().build()).create();
        assertThat(Poll.until(Duration.ofSeconds(10), () -> inf.lister().get(ns, "c") != null)).isTrue();
      }
    }
  }

  /** Controllers hold one watch per type: many long-lived watches must not starve requests. */
  @ParameterizedTest
  @ValueSource(strings = {"vertx", "jdk", "in-jvm"})
  void manyInformersAndRequestsShareTheClient(String transport) throws Exception {
    String ns = "many-" + transport;
    try (KubernetesClient client = client(transport); SharedInformers informers = new SharedInformers(client)) {
      client.namespaces().resource(new NamespaceBuilder().withNewMetadata().withName(ns).endMetadata().build()).create();
      List<Class<? extends io.fabric8.kubernetes.api.model.HasMetadata>> types = List.of(ConfigMap.class,
          io.fabric8.kubernetes.api.model.Secret.class, io.fabric8.kubernetes.api.model.Pod.class,
          io.fabric8.kubernetes.api.model.Service.class, io.fabric8.kubernetes.api.model.Namespace.class,
          io.fabric8.kubernetes.api.model.Event.class, io.fabric8.kubernetes.api.model.ServiceAccount.class,
          io.fabric8.kubernetes.api.model.coordination.v1.Lease.class, io.fabric8.kubernetes.api.model.apps.Deployment.class,
          io.fabric8.kubernetes.api.model.apps.ReplicaSet.class, io.fabric8.kubernetes.api.model.batch.v1.Job.class,
          io.fabric8.kubernetes.api.model.Endpoints.class);
      types.forEach(informers::informerFor);
      informers.start();
      assertThat(informers.waitForCacheSync(Duration.ofSeconds(20))).isTrue();
      Thread.sleep(300); // let every watch get established
      for (int i = 0; i < 20; i++) {
        client.configMaps().inNamespace(ns).resource(new ConfigMapBuilder().withNewMetadata().withName("cm-" + i).endMetadata().build()).create();
        client.secrets().inNamespace(ns).resource(new io.fabric8.kubernetes.api.model.SecretBuilder().withNewMetadata()
            .withName("s-" + i).endMetadata().build()).create();
      }
      var cms = informers.informerFor(ConfigMap.class).lister();
      var secrets = informers.informerFor(io.fabric8.kubernetes.api.model.Secret.class).lister();
      assertThat(Poll.until(Duration.ofSeconds(10), () -> cms.list(ns).size() == 20 && secrets.list(ns).size() == 20)).isTrue();
    }
  }
}
