package dev.skiff.kubelet.sandbox;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** Spare directories and files are renamed into place; results are those of the plain file operations. */
class SpareInodesTest {
  private Path tmp;

  @AfterEach
  void cleanUp() throws Exception {
    if (tmp != null) {
      try (Stream<Path> s = Files.walk(tmp)) {
        for (Path p : s.sorted(Comparator.reverseOrder()).toList()) {
          Files.deleteIfExists(p);
        }
      }
    }
  }

  private static void awaitFull(SpareInodes s) throws InterruptedException {
    for (int i = 0; i < 1000 && !s.full(); i++) {
      Thread.sleep(10);
    }
    assertThat(s.full()).isTrue();
  }

  @Test
  void takesSparesForNewDirectoriesAndFilesAndBehavesAsTheFileOperations() throws Exception {
    tmp = Files.createTempDirectory("spare-inodes");
    Path base = tmp.resolve("root");
    Files.createDirectories(base);
    try (SpareInodes s = SpareInodes.open(base.resolve("spare"), base, 4, 6)) {
      awaitFull(s);
      SpareInodes.createDirectories(base.resolve("pods/a/containers"));
      assertThat(base.resolve("pods/a/containers")).isDirectory();
      assertThat(s.available()[0]).isEqualTo(1); // three levels made from spares

      Path f = base.resolve("pods/a/state");
      SpareInodes.write(f, "first, longer content".getBytes(StandardCharsets.UTF_8));
      assertThat(f).hasContent("first, longer content");
      SpareInodes.write(f, "second".getBytes(StandardCharsets.UTF_8)); // existing: truncated
      assertThat(f).hasContent("second");
      SpareInodes.writeAtomically(base.resolve("pods/a/props"), "k=v\n".getBytes(StandardCharsets.UTF_8));
      assertThat(base.resolve("pods/a/props")).hasContent("k=v");
      assertThat(base.resolve("pods/a/props.tmp")).doesNotExist();
      SpareInodes.createFile(base.resolve("pods/a/stdout"));
      assertThat(base.resolve("pods/a/stdout")).isEmptyFile();
      SpareInodes.createFile(f); // exists: left alone
      assertThat(f).hasContent("second");
      assertThat(s.available()[1]).isEqualTo(3);

      // Outside the base: plain creation, no spare taken.
      SpareInodes.createDirectories(tmp.resolve("elsewhere/x"));
      SpareInodes.write(tmp.resolve("elsewhere/x/f"), new byte[] {1});
      assertThat(tmp.resolve("elsewhere/x/f")).hasBinaryContent(new byte[] {1});
      assertThat(s.available()).containsExactly(1, 3);
      // An existing directory is not replaced by a spare.
      Files.writeString(base.resolve("pods/a/containers/keep"), "x");
      SpareInodes.createDirectories(base.resolve("pods/a/containers"));
      assertThat(base.resolve("pods/a/containers/keep")).exists();
      assertThat(s.available()).containsExactly(1, 3);
    }
    // Closed: plain creation; the spares stay on disk for the next agent, which adopts them.
    SpareInodes.createDirectories(base.resolve("pods/b"));
    assertThat(base.resolve("pods/b")).isDirectory();
    try (Stream<Path> left = Files.list(base.resolve("spare"))) {
      assertThat(left.count()).isGreaterThanOrEqualTo(4);
    }
    // Something that is not a fresh spare is not adopted: a non-empty directory or file goes.
    try (Stream<Path> left = Files.list(base.resolve("spare"))) {
      for (Path p : left.toList()) {
        if (Files.isDirectory(p)) {
          Files.writeString(p.resolve("stale"), "x");
        } else {
          Files.writeString(p, "stale");
        }
        break;
      }
    }
    int onDisk;
    try (Stream<Path> left = Files.list(base.resolve("spare"))) {
      onDisk = (int) left.count();
    }
    try (SpareInodes again = SpareInodes.open(base.resolve("spare"), base, 4, 6)) {
      assertThat(again.available()[0] + again.available()[1]).isEqualTo(onDisk - 1);
      awaitFull(again);
      SpareInodes.createDirectories(base.resolve("pods/c"));
      try (Stream<Path> in = Files.list(base.resolve("pods/c"))) {
        assertThat(in.count()).isZero();
      }
    }
  }

  @Test
  void fallsBackWhenTheSparesAreUsedUp() throws Exception {
    tmp = Files.createTempDirectory("spare-inodes");
    Path base = tmp.resolve("root");
    Files.createDirectories(base);
    try (SpareInodes s = SpareInodes.open(base.resolve("spare"), base, 2, 2)) {
      awaitFull(s);
      for (int i = 0; i < 10; i++) {
        SpareInodes.createDirectories(base.resolve("d" + i + "/sub"));
        SpareInodes.writeAtomically(base.resolve("d" + i + "/sub/f"), ("v" + i).getBytes(StandardCharsets.UTF_8));
      }
      for (int i = 0; i < 10; i++) {
        assertThat(base.resolve("d" + i + "/sub/f")).hasContent("v" + i);
      }
    }
  }
}
