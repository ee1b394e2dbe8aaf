package dev.skiff.kubelet.cri;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayInputStream;
import java.util.Properties;
import org.junit.jupiter.api.Test;

/** The runtime's state files (sandbox.properties, container.properties) read back as written. */
class StatePropertiesTest {
  @Test
  void writtenPropertiesLoadBackUnchanged() throws Exception {
    Properties p = new Properties();
    p.setProperty("namespace", "default");
    p.setProperty("image", "registry:5000/app:v1=x#y!z");
    p.setProperty("cgroups", "");
    p.setProperty(" key with = and : ", "  leading spaces, tab\tand\nnewline\r\f \\ back");
    p.setProperty("createdAt", "2026-11-22T16:00:00.123Z");
    p.setProperty("unicode", "café ☃ \u0001");
    Properties back = new Properties();
    back.load(new ByteArrayInputStream(ProcessRuntime.props(p)));
    assertThat(back).isEqualTo(p);
    assertThat(new String(ProcessRuntime.props(p), java.nio.charset.StandardCharsets.ISO_8859_1)).doesNotStartWith("#"); // no date comment
  }
}
