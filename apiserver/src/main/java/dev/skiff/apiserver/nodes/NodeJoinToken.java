package dev.skiff.apiserver.nodes;

import dev.skiff.apiserver.auth.AuthenticationException;
import dev.skiff.apiserver.auth.Authenticator;
import dev.skiff.apiserver.auth.UserInfo;
import dev.skiff.apiserver.pki.SecureFiles;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.security.cert.X509Certificate;
import java.util.HexFormat;
import java.util.List;

/**
 * The secret a node agent presents to join the cluster, kept in {@code DATA_DIR/server/node-token}
 * (k3s keeps its join token at {@code server/node-token} too, in the same format):
 * {@code K10<sha256 of the CA certificate, hex>::node:<secret>}. The CA hash lets a joining
 * agent check, before it sends the secret, that it talks to this cluster and not to an impostor
 * (kubeadm's --discovery-token-ca-cert-hash serves the same purpose).
 *
 * <p>A request carrying {@code Authorization: Bearer <secret>} (or the whole token) authenticates
 * as {@value #USER} in group {@value #GROUP}, which may only ask for node credentials.
 * Immutable and thread-safe.
 */
public final class NodeJoinToken {
  public static final String FILE = "server/node-token";
  public static final String USER = "system:node-bootstrap";
  public static final String GROUP = "system:bootstrappers";

  private final String token;
  private final byte[] secret;

  private NodeJoinToken(String token) {
    this.token = token;
    this.secret = token.substring(token.lastIndexOf(':') + 1).getBytes(StandardCharsets.US_ASCII);
  }

  /** Reads the token, or creates it (mode 0600) on first start. A CA change re-issues the hash part. */
  public static NodeJoinToken loadOrCreate(Path dataDir, X509Certificate ca) throws IOException {
    Path file = dataDir.resolve(FILE);
    String hash = caHash(ca);
    String existing = Files.isRegularFile(file) ? Files.readString(file).trim() : "";
    if (existing.startsWith("K10") && existing.contains("::node:")) {
      String secret = existing.substring(existing.indexOf("::node:") + 7);
      String token = "K10" + hash + "::node:" + secret;
      if (!token.equals(existing)) {
        SecureFiles.write(file, (token + "\n").getBytes(StandardCharsets.US_ASCII), true);
      }
      return new NodeJoinToken(token);
    }
    byte[] random = new byte[16];
    new SecureRandom().nextBytes(random);
    String token = "K10" + hash + "::node:" + HexFormat.of().formatHex(random);
    SecureFiles.write(file, (token + "\n").getBytes(StandardCharsets.US_ASCII), true);
    return new NodeJoinToken(token);
  }

  /** The full token, as `skiff agent --token` takes it. */
  public String token() {
    return token;
  }

  /** Hex SHA-256 of the certificate's DER encoding. */
  public static String caHash(X509Certificate ca) {
    try {
      return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(ca.getEncoded()));
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException(e);
    }
  }

  /** Authenticates bearer requests carrying the secret (or the whole token). */
  public Authenticator authenticator() {
    UserInfo user = new UserInfo(USER, List.of(GROUP, UserInfo.ALL_AUTHENTICATED));
    byte[] whole = token.getBytes(StandardCharsets.US_ASCII);
    return (chain, header) -> {
      if (header == null || !header.startsWith("Bearer ")) {
        return null;
      }
      byte[] presented = header.substring(7).trim().getBytes(StandardCharsets.US_ASCII);
      // Constant time: the secret must not leak through response timing.
      if (MessageDigest.isEqual(presented, secret) || MessageDigest.isEqual(presented, whole)) {
        return user;
      }
      return null;
    };
  }
}
