package dev.skiff.apiserver.nodes;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.skiff.apiserver.api.ApiException;
import dev.skiff.apiserver.api.Json;
import dev.skiff.apiserver.http.ApiHandler;
import dev.skiff.apiserver.pki.ClusterPki;
import dev.skiff.apiserver.pki.IssuedCertificate;
import dev.skiff.apiserver.pki.Pem;
import dev.skiff.apiserver.rbac.AccessReviews;
import dev.skiff.apiserver.registry.ResourceDescriptor;
import java.time.Duration;
import java.util.List;
import java.util.regex.Pattern;

/**
 * {@code POST /apis/skiff.dev/v1/nodecredentialrequests}: a joining node agent, authenticated by
 * the {@link NodeJoinToken}, gets a client certificate for {@code system:node:<nodeName>} in group
 * {@code system:nodes}, the identity kubelets have upstream, and the cluster CA to trust.
 *
 * <p>This plays the part of kubelet TLS bootstrapping (a CertificateSigningRequest auto-approved
 * for the bootstrap group, then signed) in one round trip, as k3s's supervisor does for its
 * agents. With {@code spec.servingAddresses} (IPs and host names) it also issues the agent's
 * serving certificate for its streaming/log server ({@code status.servingCertificate},
 * {@code status.servingKey}; upstream: a kubelet-serving CSR), which {@link KubeletClient}
 * verifies. Like a review, the request is answered and not stored.
 */
public final class NodeCredentials {
  public static final String GROUP = "skiff.dev";
  public static final String RESOURCE = "nodecredentialrequests";
  public static final String NODES_GROUP = "system:nodes";
  static final Duration VALIDITY = Duration.ofDays(365);
  private static final ResourceDescriptor REQUEST =
      ResourceDescriptor.builder(GROUP, "v1", "NodeCredentialRequest", RESOURCE).clusterScoped().verbs("create").build();
  // A node name is a DNS-1123 subdomain (ValidateNodeName).
  private static final Pattern SUBDOMAIN = Pattern.compile("[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*");

  private NodeCredentials() {}

  public static void install(ApiHandler handler, ClusterPki pki) {
    handler.addVirtual(GROUP, "v1", RESOURCE, (ex, info) -> {
      if (!ex.method().equals("POST") || info.name() != null) {
        throw ApiException.methodNotAllowed("the server does not allow this method on the requested resource");
      }
      ObjectNode req = AccessReviews.decode(handler, ex, REQUEST);
      String node = req.path("spec").path("nodeName").asText("");
      if (node.isEmpty() || node.length() > 253 || !SUBDOMAIN.matcher(node).matches()) {
        throw ApiException.invalid(GROUP, "NodeCredentialRequest", "", List.of(ApiException.Cause.invalid("spec.nodeName", node,
            "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character")));
      }
      IssuedCertificate cert = pki.issueClientCertificate("system:node:" + node, List.of(NODES_GROUP), VALIDITY);
      // The agent's streaming/log server (upstream: a kubelet-serving CSR): the addresses it serves on.
      List<String> serving = new java.util.ArrayList<>();
      req.path("spec").path("servingAddresses").forEach(a -> serving.add(a.asText()));
      if (serving.size() > 64) {
        throw ApiException.badRequest("spec.servingAddresses: at most 64 addresses");
      }
      req.put("apiVersion", GROUP + "/v1");
      req.put("kind", "NodeCredentialRequest");
      ObjectNode status = req.putObject("status");
      status.put("certificate", cert.certificatePem());
      status.put("key", cert.privateKeyPem());
      status.put("certificateAuthority", Pem.encodeCertificates(List.of(cert.ca())));
      status.put("expirationTimestamp", cert.certificate().getNotAfter().toInstant().toString());
      if (!serving.isEmpty()) {
        IssuedCertificate srv;
        try {
          srv = pki.issueServingCertificate("system:node:" + node, List.of(NODES_GROUP), serving, false, VALIDITY);
        } catch (IllegalArgumentException e) {
          throw ApiException.badRequest("spec.servingAddresses: " + e.getMessage());
        }
        status.put("servingCertificate", srv.certificatePem());
        status.put("servingKey", srv.privateKeyPem());
      }
      ex.json(201, Json.bytes(req));
    });
  }
}
