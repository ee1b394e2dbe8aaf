package dev.skiff.apiserver.rbac;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.skiff.apiserver.ApiServer;
import dev.skiff.apiserver.api.Json;
import dev.skiff.apiserver.registry.ResourceStore;
import dev.skiff.apiserver.registry.WriteOptions;
import dev.skiff.apiserver.serviceaccount.ServiceAccountTokens;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.Comparator;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Bootstrap roles across restarts, autoupdate reconciliation, and live aggregation. */
class BootstrapPolicyTest {
  @Test
  void defaultsSurviveRestartsAndAutoupdateRestoresRemovedRules() throws Exception {
    Path dir = Files.createTempDirectory("skiff-bootstrap");
    try {
      Path data = dir.resolve("data");
      String token;
      try (ApiServer s = ApiServer.start(new ApiServer.Config(data, 0, "127.0.0.1"))) {
        ResourceStore roles = s.registry().storeForKind("rbac.authorization.k8s.io", "ClusterRole");
        ResourceStore bindings = s.registry().storeForKind("rbac.authorization.k8s.io", "ClusterRoleBinding");
        for (String r : List.of("cluster-admin", "admin", "edit", "view", "system:discovery", "system:basic-user",
            "system:public-info-viewer", "system:aggregate-to-view")) {
          assertThat(roles.getObject(null, r).path("metadata").path("labels").path("kubernetes.io/bootstrapping").asText())
              .isEqualTo("rbac-defaults");
        }
        assertThat(bindings.getObject(null, "system:public-info-viewer").path("subjects").toString())
            .contains("system:authenticated", "system:unauthenticated");
        // user edits: one autoupdated role loses a rule, one opted-out role loses all
        roles.guaranteedUpdate(null, "system:basic-user", 0, cur -> {
          cur.putArray("rules");
          return cur;
        }, WriteOptions.internal("test"), false);
        roles.guaranteedUpdate(null, "system:public-info-viewer", 0, cur -> {
          ((ObjectNode) cur.path("metadata").path("annotations")).put(BootstrapPolicy.AUTOUPDATE, "false");
          cur.putArray("rules");
          return cur;
        }, WriteOptions.internal("test"), false);
        token = ServiceAccountTokens.loadOrCreate(data).sign("ns", "sa", "uid-1", List.of(ServiceAccountTokens.ISSUER),
            Instant.now(), Instant.now().plusSeconds(600));
      }
      assertThat(data.resolve("pki/sa.key")).exists();
      assertThat(data.resolve("pki/sa.pub")).exists();
      try (ApiServer s = ApiServer.start(new ApiServer.Config(data, 0, "127.0.0.1"))) {
        ResourceStore roles = s.registry().storeForKind("rbac.authorization.k8s.io", "ClusterRole");
        assertThat(roles.getObject(null, "system:basic-user").path("rules").toString()).contains("selfsubjectaccessreviews");
        assertThat(roles.getObject(null, "system:public-info-viewer").path("rules")).isEmpty();
        // the signing key is reused: tokens issued before the restart still verify
        var claims = ServiceAccountTokens.loadOrCreate(data).verify(token, Instant.now(), List.of(ServiceAccountTokens.ISSUER));
        assertThat(claims.username()).isEqualTo("system:serviceaccount:ns:sa");
      }
    } finally {
      try (var files = Files.walk(dir)) {
        files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
      }
    }
  }

  @Test
  void aggregatedRolesFollowNewlyLabelledRoles() throws Exception {
    Path dir = Files.createTempDirectory("skiff-aggregate");
    try (ApiServer s = ApiServer.start(new ApiServer.Config(dir.resolve("data"), 0, "127.0.0.1"))) {
      ResourceStore roles = s.registry().storeForKind("rbac.authorization.k8s.io", "ClusterRole");
      roles.create(null, Json.parseObject("""
          {"apiVersion":"rbac.authorization.k8s.io/v1","kind":"ClusterRole",
           "metadata":{"name":"widget-viewer","labels":{"rbac.authorization.k8s.io/aggregate-to-view":"true"}},
           "rules":[{"apiGroups":["example.com"],"resources":["widgets"],"verbs":["get","list"]}]}""".getBytes()),
          WriteOptions.internal("test"));
      boolean all = false;
      for (int i = 0; i < 100 && !all; i++) {
        all = roles.getObject(null, "view").path("rules").toString().contains("widgets")
            && roles.getObject(null, "edit").path("rules").toString().contains("widgets")
            && roles.getObject(null, "admin").path("rules").toString().contains("widgets");
        Thread.sleep(50);
      }
      assertThat(all).as("view, edit and admin aggregate the new rule").isTrue();
      // and then they stay put: no update loop between the aggregator and the store
      String rv = roles.getObject(null, "admin").path("metadata").path("resourceVersion").asText();
      Thread.sleep(500);
      assertThat(roles.getObject(null, "admin").path("metadata").path("resourceVersion").asText()).isEqualTo(rv);
      roles.delete(null, "widget-viewer", dev.skiff.apiserver.registry.DeleteOptions.DEFAULT);
      boolean gone = false;
      for (int i = 0; i < 100 && !gone; i++) {
        gone = !roles.getObject(null, "admin").path("rules").toString().contains("widgets");
        Thread.sleep(50);
      }
      assertThat(gone).isTrue();
    } finally {
      try (var files = Files.walk(dir)) {
        files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
      }
    }
  }
}
