package dev.skiff.kubelet.cri;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.zip.GZIPInputStream;
import org.junit.jupiter.api.Test;

/** The rotation policy's parsing and its clean-up of rotated logs (compress all but the newest, keep maxFiles). */
class LogRotationTest {
  @Test
  void parsesQuantitiesAndDefaults() {
    assertThat(LogRotation.parse(null, null)).isEqualTo(new LogRotation(10L << 20, 5));
    assertThat(LogRotation.parse("512Ki", "3")).isEqualTo(new LogRotation(512 * 1024, 3));
    assertThat(LogRotation.parse("2Mi", null).maxSizeBytes()).isEqualTo(2L << 20);
    assertThat(LogRotation.parse("1000", null).maxSizeBytes()).isEqualTo(1000);
    assertThat(LogRotation.parse("1M", null).maxSizeBytes()).isEqualTo(1_000_000);
    assertThatThrownBy(() -> LogRotation.parse("big", null)).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> LogRotation.parse(null, "1")).isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void cleanUpCompressesAllButTheNewestRotatedLogAndKeepsMaxFiles() throws Exception {
    Path dir = Files.createTempDirectory("rotation");
    Path log = dir.resolve("0.log");
    Files.writeString(log, "current\n");
    String[] stamps = {"20261122-100000.000001", "20261122-100000.000002", "20261122-100001.000000",
        "20261122-100002.500000"};
    for (String s : stamps) {
      Files.writeString(dir.resolve("0.log." + s), "content of " + s + "\n");
    }
    Files.writeString(dir.resolve("0.log.20261122-095959.000000.gz.tmp"), "half a gzip"); // interrupted earlier
    Files.writeString(dir.resolve("1.log.20261122-100000.000000"), "another instance's"); // not ours
    new LogRotation(100, 3).cleanUp(log);
    List<Path> rotated = LogRotation.rotated(log);
    // maxFiles 3 = the current log + 2 rotated: the newest stays plain, the one before is gzipped
    assertThat(rotated).extracting(p -> p.getFileName().toString())
        .containsExactly("0.log.20261122-100001.000000.gz", "0.log.20261122-100002.500000");
    try (InputStream in = new GZIPInputStream(Files.newInputStream(rotated.get(0)))) {
      assertThat(new String(in.readAllBytes(), StandardCharsets.UTF_8)).isEqualTo("content of 20261122-100001.000000\n");
    }
    assertThat(dir.resolve("0.log.20261122-095959.000000.gz.tmp")).doesNotExist();
    assertThat(dir.resolve("1.log.20261122-100000.000000")).exists();
    assertThat(Files.readString(log)).isEqualTo("current\n");
  }
}
