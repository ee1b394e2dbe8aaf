package dev.skiff.apiserver.auth;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.function.LongSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Static bearer tokens from a CSV file in kube-apiserver's --token-auth-file format:
 * {@code token,user,uid[,"group1,group2,..."]}.
 *
 * <p>Parsing follows Go's encoding/csv as used by kube-apiserver (quoted fields, {@code ""} escapes,
 * quoted line breaks, extra columns ignored, empty tokens skipped, last duplicate wins). Two
 * deliberate differences: lines starting with {@code #} are comments, and group names are trimmed
 * (a group named " b" is never what was meant).
 *
 * <p>Unlike kube-apiserver the file is reloaded when it changes, checked at most once per second
 * on the request path (a stat, no watcher thread). If the new content does not parse, the previous
 * tokens stay in force (an editor may be half-way through writing); a deleted file revokes all
 * tokens.
 */
public final class TokenFileAuthenticator implements Authenticator {
  private static final Logger LOG = LoggerFactory.getLogger(TokenFileAuthenticator.class);
  private static final long CHECK_INTERVAL_NANOS = 1_000_000_000L;

  private final Path file;
  private final LongSupplier nanoTime;
  private final Object reloadLock = new Object();
  private volatile Snapshot snapshot;
  private volatile long nextCheck;

  /** Content fingerprint: size catches a rewrite within the file system's mtime granularity. */
  private record Stamp(long mtimeNanos, long size, Object fileKey) {}

  private record Snapshot(Stamp stamp, Map<String, UserInfo> tokens) {}

  /** Loads {@code file} now; a missing or malformed file is a start-up error. */
  public TokenFileAuthenticator(Path file) throws IOException {
    this(file, System::nanoTime);
  }

  TokenFileAuthenticator(Path file, LongSupplier nanoTime) throws IOException {
    this.file = Objects.requireNonNull(file);
    this.nanoTime = nanoTime;
    Stamp stamp = stamp(file);
    this.snapshot = new Snapshot(stamp, parse(Files.readString(file, StandardCharsets.UTF_8), file.toString()));
    this.nextCheck = nanoTime.getAsLong() + CHECK_INTERVAL_NANOS;
  }

  /** Number of tokens currently loaded. */
  public int size() {
    return snapshot.tokens.size();
  }

  @Override
  public UserInfo authenticate(X509Certificate[] peerChain, String authorizationHeader)
      throws AuthenticationException {
    String token = BearerToken.extract(authorizationHeader);
    if (token == null) return null;
    maybeReload();
    UserInfo user = snapshot.tokens.get(token);
    if (user == null) throw new AuthenticationException("invalid bearer token");
    return user;
  }

  private void maybeReload() {
    long now = nanoTime.getAsLong();
    if (now - nextCheck < 0) return;
    synchronized (reloadLock) {
      if (now - nextCheck < 0) return; // another thread just checked
      nextCheck = now + CHECK_INTERVAL_NANOS;
      Stamp stamp;
      try {
        stamp = stamp(file);
      } catch (NoSuchFileException e) {
        if (!snapshot.tokens.isEmpty()) LOG.warn("Token file {} was removed; all its tokens are revoked", file);
        snapshot = new Snapshot(null, Map.of());
        return;
      } catch (IOException e) {
        LOG.warn("Cannot stat token file {}: {}; keeping current tokens", file, e.toString());
        return;
      }
      if (stamp.equals(snapshot.stamp)) return;
      try {
        Map<String, UserInfo> tokens = parse(Files.readString(file, StandardCharsets.UTF_8), file.toString());
        snapshot = new Snapshot(stamp, tokens);
        LOG.info("Reloaded token file {} ({} tokens)", file, tokens.size());
      } catch (IOException e) {
        // Remember the stamp so a broken file is reported once, not every second.
        snapshot = new Snapshot(stamp, snapshot.tokens);
        LOG.warn("Token file {} is invalid, keeping previous tokens: {}", file, e.getMessage());
      }
    }
  }

  private static Stamp stamp(Path file) throws IOException {
    BasicFileAttributes a = Files.readAttributes(file, BasicFileAttributes.class);
    return new Stamp(a.lastModifiedTime().to(java.util.concurrent.TimeUnit.NANOSECONDS), a.size(), a.fileKey());
  }

  /** Parses token-file content; {@code source} names the file in error messages. */
  static Map<String, UserInfo> parse(String content, String source) throws IOException {
    Map<String, UserInfo> tokens = new HashMap<>();
    int record = 0;
    for (Row row : rows(content, source)) {
      List<String> f = row.fields;
      if (f.size() < 3) {
        throw new IOException(source + ":" + row.line + ": token file must have at least 3 columns"
            + " (token, user name, user uid), found " + f.size());
      }
      record++;
      if (f.get(0).isEmpty()) {
        LOG.warn("Empty token in {} record {}; skipped", source, record);
        continue;
      }
      List<String> groups = new ArrayList<>();
      if (f.size() >= 4) {
        for (String g : f.get(3).split(",")) {
          if (!g.isBlank()) groups.add(g.strip());
        }
      }
      if (tokens.put(f.get(0), new UserInfo(f.get(1), f.get(2), groups, Map.of())) != null) {
        LOG.warn("Duplicate token in {} record {}; the later one wins", source, record);
      }
    }
    return tokens;
  }

  private record Row(int line, List<String> fields) {}

  /** RFC 4180 reader with Go encoding/csv's rules, plus '#' comment lines. */
  private static List<Row> rows(String s, String source) throws IOException {
    List<Row> rows = new ArrayList<>();
    int i = 0;
    int line = 1;
    int n = s.length();
    while (i < n) {
      int startLine = line;
      char c0 = s.charAt(i);
      if (c0 == '\n' || c0 == '\r') { // blank line
        if (c0 == '\r' && i + 1 < n && s.charAt(i + 1) == '\n') i++;
        i++;
        line++;
        continue;
      }
      if (c0 == '#') { // comment line
        while (i < n && s.charAt(i) != '\n') i++;
        i++;
        line++;
        continue;
      }
      List<String> fields = new ArrayList<>();
      StringBuilder field = new StringBuilder();
      boolean endOfRecord = false;
      while (!endOfRecord) {
        field.setLength(0);
        if (i < n && s.charAt(i) == '"') {
          i++;
          while (true) {
            if (i >= n) throw new IOException(source + ":" + startLine + ": unterminated quoted field");
            char c = s.charAt(i++);
            if (c == '"') {
              if (i < n && s.charAt(i) == '"') {
                field.append('"');
                i++;
              } else {
                break;
              }
            } else {
              if (c == '\n') line++;
              field.append(c);
            }
          }
          if (i < n && s.charAt(i) != ',' && s.charAt(i) != '\n' && s.charAt(i) != '\r') {
            throw new IOException(source + ":" + line + ": extraneous \" in field");
          }
        } else {
          while (i < n && s.charAt(i) != ',' && s.charAt(i) != '\n' && s.charAt(i) != '\r') {
            char c = s.charAt(i++);
            if (c == '"') throw new IOException(source + ":" + line + ": bare \" in non-quoted field");
            field.append(c);
          }
        }
        fields.add(field.toString());
        if (i < n && s.charAt(i) == ',') {
          i++;
        } else {
          if (i < n && s.charAt(i) == '\r') i++;
          if (i < n && s.charAt(i) == '\n') i++;
          line++;
          endOfRecord = true;
        }
      }
      rows.add(new Row(startLine, fields));
    }
    return rows;
  }

  @Override
  public String toString() {
    return "TokenFileAuthenticator[" + file + ", " + size() + " tokens]";
  }
}
