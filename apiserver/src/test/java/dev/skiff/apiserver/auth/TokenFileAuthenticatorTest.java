package dev.skiff.apiserver.auth;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TokenFileAuthenticatorTest {
  @TempDir Path dir;

  @Test
  void parsesKubeApiserverCsvIncludingQuotedGroups() throws Exception {
    Map<String, UserInfo> t = TokenFileAuthenticator.parse("""
        # comment line, skipped even though it has, commas
        abc123,alice,uid-1,"system:masters,dev"
        def456,bob,uid-2
        
        "quoted,token",carol,uid-3,"a, b ,,c"
        ghi789,dave,uid-4,single,ignored-extra-column
        "multi
        line",erin,uid-5,"say ""hi""\"
        ,nobody,uid-6
        """, "test");
    assertThat(t).containsOnlyKeys("abc123", "def456", "quoted,token", "ghi789", "multi\nline");
    assertThat(t.get("abc123")).isEqualTo(new UserInfo("alice", "uid-1", List.of("system:masters", "dev"), Map.of()));
    assertThat(t.get("abc123").groups()).containsExactly("system:masters", "dev", "system:authenticated");
    assertThat(t.get("def456").groups()).containsExactly("system:authenticated");
    assertThat(t.get("quoted,token").groups()).containsExactly("a", "b", "c", "system:authenticated");
    assertThat(t.get("ghi789").groups()).containsExactly("single", "system:authenticated");
    assertThat(t.get("multi\nline").groups()).containsExactly("say \"hi\"", "system:authenticated");
    assertThat(t.get("ghi789").uid()).isEqualTo("uid-4");
  }

  @Test
  void rejectsMalformedFilesWithALineNumber() {
    assertThatThrownBy(() -> TokenFileAuthenticator.parse("a,b,c\nonly,two\n", "f.csv"))
        .isInstanceOf(IOException.class).hasMessageContaining("f.csv:2").hasMessageContaining("at least 3 columns");
    assertThatThrownBy(() -> TokenFileAuthenticator.parse("a,\"b,c\n", "f.csv"))
        .isInstanceOf(IOException.class).hasMessageContaining("unterminated");
    assertThatThrownBy(() -> TokenFileAuthenticator.parse("a,b\"x,c\n", "f.csv"))
        .isInstanceOf(IOException.class).hasMessageContaining("bare");
  }

  @Test
  void authenticatesBearerTokensOnly() throws Exception {
    Path f = dir.resolve("tokens.csv");
    Files.writeString(f, "abc123,alice,uid-1,\"system:masters,dev\"\r\n");
    TokenFileAuthenticator a = new TokenFileAuthenticator(f);
    assertThat(a.authenticate(null, "Bearer abc123").name()).isEqualTo("alice");
    assertThat(a.authenticate(null, "bearer   abc123  ").name()).isEqualTo("alice");
    assertThat(a.authenticate(null, null)).isNull();
    assertThat(a.authenticate(null, "Basic YWxpY2U6eA==")).isNull();
    assertThat(a.authenticate(null, "Bearer ")).isNull();
    assertThatThrownBy(() -> a.authenticate(null, "Bearer nope"))
        .isInstanceOf(AuthenticationException.class).hasMessageContaining("invalid bearer token");
  }

  @Test
  void reloadsWhenTheFileChangesAtMostOncePerSecond() throws Exception {
    Path f = dir.resolve("tokens.csv");
    Files.writeString(f, "t1,alice,1\n");
    AtomicLong now = new AtomicLong(0);
    TokenFileAuthenticator a = new TokenFileAuthenticator(f, now::get);

    Files.writeString(f, "t2,bob,2\n");
    Files.setLastModifiedTime(f, FileTime.from(Instant.now().plusSeconds(5)));
    now.set(500_000_000L); // 0.5 s: not checked yet
    assertThat(a.authenticate(null, "Bearer t1").name()).isEqualTo("alice");
    now.set(1_000_000_000L);
    assertThat(a.authenticate(null, "Bearer t2").name()).isEqualTo("bob");
    assertThatThrownBy(() -> a.authenticate(null, "Bearer t1")).isInstanceOf(AuthenticationException.class);

    // Same mtime, different size (rewrite within the file system's timestamp granularity).
    FileTime mtime = Files.getLastModifiedTime(f);
    Files.writeString(f, "t3,carol,3,admins\n");
    Files.setLastModifiedTime(f, mtime);
    now.set(2_000_000_000L);
    assertThat(a.authenticate(null, "Bearer t3").groups()).containsExactly("admins", "system:authenticated");

    // A broken file keeps the previous tokens.
    Files.writeString(f, "t4,only-two-columns\n");
    Files.setLastModifiedTime(f, FileTime.from(Instant.now().plusSeconds(10)));
    now.set(3_000_000_000L);
    assertThat(a.authenticate(null, "Bearer t3").name()).isEqualTo("carol");

    // A deleted file revokes everything.
    Files.delete(f);
    now.set(4_000_000_000L);
    assertThatThrownBy(() -> a.authenticate(null, "Bearer t3")).isInstanceOf(AuthenticationException.class);
    assertThat(a.size()).isZero();
  }

  @Test
  void aMissingFileIsAStartupError() {
    assertThatThrownBy(() -> new TokenFileAuthenticator(dir.resolve("absent.csv"))).isInstanceOf(IOException.class);
  }
}
