package dev.skiff.apiserver.auth;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class UnionAuthenticatorTest {
  private static final Authenticator NONE = (chain, header) -> null;
  private static final Authenticator BAD = (chain, header) -> {
    throw new AuthenticationException("bad credential");
  };
  private static final Authenticator ALICE = (chain, header) -> new UserInfo("alice", List.of());

  @Test
  void firstUserWinsAndFailuresDoNotShadowALaterSuccess() throws Exception {
    assertThat(UnionAuthenticator.of(NONE, BAD, ALICE).authenticate(null, "x").name()).isEqualTo("alice");
  }

  @Test
  void failuresAreReportedOnlyWhenNobodySucceeds() {
    assertThatThrownBy(() -> UnionAuthenticator.of(NONE, BAD, BAD).authenticate(null, "x"))
        .isInstanceOf(AuthenticationException.class).hasMessage("bad credential")
        .satisfies(e -> assertThat(e.getSuppressed()).hasSize(1));
  }

  @Test
  void anonymousWhenNoCredentialIsOffered() throws Exception {
    assertThat(UnionAuthenticator.of(NONE, NONE).authenticate(null, null)).isNull();
    assertThat(UnionAuthenticator.of().authenticate(null, null)).isNull();
  }

  @Test
  void userInfoAddsSystemAuthenticatedLikeKubeApiserver() {
    assertThat(new UserInfo("u", List.of("g")).groups()).containsExactly("g", "system:authenticated");
    assertThat(new UserInfo("u", List.of("system:authenticated", "g")).groups())
        .containsExactly("system:authenticated", "g");
    assertThat(new UserInfo("system:anonymous", List.of("system:unauthenticated")).groups())
        .containsExactly("system:unauthenticated");
    assertThat(new UserInfo("u", null, null, null)).isEqualTo(new UserInfo("u", "", List.of(), Map.of()));
    assertThatThrownBy(() -> new UserInfo("u", List.of()).groups().add("x"))
        .isInstanceOf(UnsupportedOperationException.class);
  }
}
