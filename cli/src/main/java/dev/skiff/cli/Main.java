package dev.skiff.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The {@code skiff} command. */
@Command(name = "skiff", mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
    description = "A Kubernetes-compatible cluster with Knative Serving, in one JVM.",
    subcommands = {ServerCommand.class, AgentCommand.class, VersionCommand.class})
public final class Main implements Runnable {
  public static void main(String[] args) {
    // Pod containers start through vfork, one exec less than posix_spawn + jspawnhelper (docs/kubelet.md).
    dev.skiff.kubelet.sandbox.ProcessLauncher.preferVfork();
    int code = new CommandLine(new Main()).setCaseInsensitiveEnumValuesAllowed(true).execute(args);
    if (code != 0) {
      System.exit(code);
    }
  }

  @Override
  public void run() {
    new CommandLine(this).usage(System.out);
  }

  static final class Version implements CommandLine.IVersionProvider {
    @Override
    public String[] getVersion() {
      return new String[] {"skiff " + VersionCommand.SKIFF_VERSION + " (Kubernetes v1.32 API)"};
    }
  }
}
