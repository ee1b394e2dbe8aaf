package dev.skiff.apiserver.serviceaccount;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.skiff.apiserver.api.Json;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.MessageDigest;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.Signature;
import java.security.spec.PKCS8EncodedKeySpec;
import java.security.spec.X509EncodedKeySpec;
import java.time.Instant;
import java.util.Base64;
import java.util.List;

/**
 * Signs and verifies service-account JWTs (RS256), as kube-apiserver's
 * pkg/serviceaccount/jwt.go with the key pair kubeadm keeps in pki/sa.key and pki/sa.pub
 * (generated at first start). Claims follow pkg/serviceaccount/claims.go: iss, sub, aud, exp,
 * iat, nbf, jti and the private kubernetes.io claim {namespace, serviceaccount{name, uid}}.
 */
public final class ServiceAccountTokens {
  public static final String ISSUER = "https://kubernetes.default.svc.cluster.local";
  private static final Base64.Encoder B64 = Base64.getUrlEncoder().withoutPadding();
  private static final Base64.Decoder B64D = Base64.getUrlDecoder();

  /**
   * The signing key pair, read or made on first use: generating an RSA-2048 key costs ~0.5 s,
   * which a first start should not wait for ({@link #warmUp} does it in the background).
   */
  private final Path dataDir;
  private volatile Keys keys;

  private record Keys(PrivateKey privateKey, PublicKey publicKey, String keyId) {}

  /** A verified token's claims. */
  /** An object a token is bound to (a Pod or Secret): the token dies with it. */
  public record BoundObject(String kind, String name, String uid) {}

  public record Claims(String namespace, String name, String uid, List<String> audiences, Instant expires, String jti,
      BoundObject bound) {
    public String username() {
      return "system:serviceaccount:" + namespace + ":" + name;
    }
  }

  private ServiceAccountTokens(Path dataDir) {
    this.dataDir = dataDir;
  }

  /** Tokens signed with pki/sa.key under the data directory (made on first use when missing). */
  public static ServiceAccountTokens loadOrCreate(Path dataDir) {
    return new ServiceAccountTokens(dataDir);
  }

  /** Reads or makes the key pair now (call it off the request path). */
  public void warmUp() {
    keys();
  }

  private Keys keys() {
    Keys k = keys;
    if (k == null) {
      synchronized (this) {
        k = keys;
        if (k == null) {
          try {
            k = load(dataDir);
          } catch (IOException | GeneralSecurityException e) {
            throw new IllegalStateException("service account signing key: " + e.getMessage(), e);
          }
          keys = k;
        }
      }
    }
    return k;
  }

  private static Keys keys(PrivateKey k, PublicKey p) throws GeneralSecurityException {
    // kid as upstream: URL-safe base64 of the SHA-256 of the DER public key.
    return new Keys(k, p, B64.encodeToString(MessageDigest.getInstance("SHA-256").digest(p.getEncoded())));
  }

  /**
   * Reads the key pair, or makes it when missing, under a lock file: two users of one data
   * directory (the server's warm-up and a token request, or two processes) must not each make one.
   */
  private static Keys load(Path dataDir) throws IOException, GeneralSecurityException {
    Path dir = Files.createDirectories(dataDir.resolve("pki"));
    // A file lock excludes other processes; within this JVM (where a second lock on the same file
    // throws) a monitor per directory serializes first.
    synchronized (LOCKS.computeIfAbsent(dir.toAbsolutePath().normalize(), d -> new Object())) {
      try (var lockFile = java.nio.channels.FileChannel.open(dir.resolve("sa.lock"),
              java.nio.file.StandardOpenOption.CREATE, java.nio.file.StandardOpenOption.WRITE);
          var lock = lockFile.lock()) {
        return loadLocked(dir);
      }
    }
  }

  private static final java.util.Map<Path, Object> LOCKS = new java.util.concurrent.ConcurrentHashMap<>();

  private static Keys loadLocked(Path dir) throws IOException, GeneralSecurityException {
    Path key = dir.resolve("sa.key");
    Path pub = dir.resolve("sa.pub");
    KeyFactory rsa = KeyFactory.getInstance("RSA");
    if (Files.exists(key) && Files.exists(pub)) {
      PrivateKey k = rsa.generatePrivate(new PKCS8EncodedKeySpec(pemBody(Files.readString(key))));
      PublicKey p = rsa.generatePublic(new X509EncodedKeySpec(pemBody(Files.readString(pub))));
      return keys(k, p);
    }
    KeyPairGenerator g = KeyPairGenerator.getInstance("RSA");
    g.initialize(2048);
    KeyPair kp = g.generateKeyPair();
    Files.writeString(pub, pem("PUBLIC KEY", kp.getPublic().getEncoded()));
    Files.writeString(key, pem("PRIVATE KEY", kp.getPrivate().getEncoded()));
    try {
      Files.setPosixFilePermissions(key, PosixFilePermissions.fromString("rw-------"));
    } catch (UnsupportedOperationException ignored) {
      // not a POSIX file system
    }
    return keys(kp.getPrivate(), kp.getPublic());
  }

  private static String pem(String type, byte[] der) {
    return "-----BEGIN " + type + "-----\n" + Base64.getMimeEncoder(64, "\n".getBytes(StandardCharsets.US_ASCII)).encodeToString(der)
        + "\n-----END " + type + "-----\n";
  }

  private static byte[] pemBody(String pem) {
    StringBuilder sb = new StringBuilder();
    for (String line : pem.split("\n")) {
      if (!line.startsWith("-----")) {
        sb.append(line.trim());
      }
    }
    return Base64.getDecoder().decode(sb.toString());
  }

  public String sign(String namespace, String name, String uid, List<String> audiences, Instant issuedAt, Instant expires) {
    return sign(namespace, name, uid, audiences, issuedAt, expires, null);
  }

  /** @param bound the Pod or Secret the token is bound to, or null */
  public String sign(String namespace, String name, String uid, List<String> audiences, Instant issuedAt, Instant expires,
      BoundObject bound) {
    ObjectNode header = Json.object();
    header.put("alg", "RS256");
    header.put("kid", keys().keyId());
    ObjectNode claims = Json.object();
    ArrayNode aud = claims.putArray("aud");
    audiences.forEach(aud::add);
    claims.put("exp", expires.getEpochSecond());
    claims.put("iat", issuedAt.getEpochSecond());
    claims.put("iss", ISSUER);
    claims.put("jti", java.util.UUID.randomUUID().toString());
    ObjectNode k8s = claims.putObject("kubernetes.io");
    k8s.put("namespace", namespace);
    if (bound != null) {
      k8s.putObject(bound.kind().toLowerCase()).put("name", bound.name()).put("uid", bound.uid());
    }
    k8s.putObject("serviceaccount").put("name", name).put("uid", uid);
    claims.put("nbf", issuedAt.getEpochSecond());
    claims.put("sub", "system:serviceaccount:" + namespace + ":" + name);
    String signingInput = B64.encodeToString(Json.bytes(header)) + "." + B64.encodeToString(Json.bytes(claims));
    try {
      Signature s = Signature.getInstance("SHA256withRSA");
      s.initSign(keys().privateKey());
      s.update(signingInput.getBytes(StandardCharsets.US_ASCII));
      return signingInput + "." + B64.encodeToString(s.sign());
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException(e);
    }
  }

  /** True when the token looks like a JWT issued by us (three parts, our issuer); cheap, no crypto. */
  public static boolean looksLikeJwt(String token) {
    int first = token.indexOf('.');
    return first > 0 && token.indexOf('.', first + 1) > first && token.startsWith("eyJ");
  }

  /**
   * Verifies signature, issuer, time window and audience.
   *
   * @return the claims, or null if the token is not one of ours (another issuer)
   * @throws IllegalArgumentException with the reason when it is ours but invalid
   */
  public Claims verify(String token, Instant now, List<String> acceptedAudiences) {
    String[] parts = token.split("\\.", -1);
    if (parts.length != 3) {
      return null;
    }
    JsonNode claims;
    JsonNode header;
    try {
      header = Json.parse(B64D.decode(parts[0]));
      claims = Json.parse(B64D.decode(parts[1]));
    } catch (RuntimeException e) {
      return null;
    }
    if (!ISSUER.equals(claims.path("iss").asText())) {
      return null;
    }
    if (!"RS256".equals(header.path("alg").asText())) {
      throw new IllegalArgumentException("unexpected signing algorithm");
    }
    try {
      Signature s = Signature.getInstance("SHA256withRSA");
      s.initVerify(keys().publicKey());
      s.update((parts[0] + "." + parts[1]).getBytes(StandardCharsets.US_ASCII));
      if (!s.verify(B64D.decode(parts[2]))) {
        throw new IllegalArgumentException("invalid signature");
      }
    } catch (GeneralSecurityException | IllegalArgumentException e) {
      throw new IllegalArgumentException("invalid signature");
    }
    long exp = claims.path("exp").asLong(0);
    long nbf = claims.path("nbf").asLong(0);
    // jwt.go allows 60 s of clock skew on both ends.
    if (exp == 0 || now.getEpochSecond() > exp + 60) {
      throw new IllegalArgumentException("token has expired");
    }
    if (nbf != 0 && now.getEpochSecond() + 60 < nbf) {
      throw new IllegalArgumentException("token not yet valid");
    }
    List<String> aud = new java.util.ArrayList<>();
    JsonNode a = claims.get("aud");
    if (a != null && a.isArray()) {
      a.forEach(x -> aud.add(x.asText()));
    } else if (a != null) {
      aud.add(a.asText());
    }
    if (aud.stream().noneMatch(acceptedAudiences::contains)) {
      throw new IllegalArgumentException("token audiences " + aud + " is invalid for the target audiences " + acceptedAudiences);
    }
    JsonNode k8s = claims.path("kubernetes.io");
    String ns = k8s.path("namespace").asText("");
    String name = k8s.path("serviceaccount").path("name").asText("");
    String uid = k8s.path("serviceaccount").path("uid").asText("");
    if (ns.isEmpty() || name.isEmpty()) {
      throw new IllegalArgumentException("token has no service account claim");
    }
    BoundObject bound = null;
    for (String kind : List.of("Pod", "Secret")) {
      JsonNode b = k8s.get(kind.toLowerCase());
      if (b != null && b.isObject()) {
        bound = new BoundObject(kind, b.path("name").asText(""), b.path("uid").asText(""));
      }
    }
    return new Claims(ns, name, uid, aud, Instant.ofEpochSecond(exp), claims.path("jti").asText(""), bound);
  }
}
