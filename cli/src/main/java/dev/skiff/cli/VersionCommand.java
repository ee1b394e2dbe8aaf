package dev.skiff.cli;

import picocli.CommandLine.Command;

@Command(name = "version", description = "Print the Skiff version.")
final class VersionCommand implements Runnable {
  static final String SKIFF_VERSION = "0.1.0";

  @Override
  public void run() {
    System.out.println("skiff " + SKIFF_VERSION + " (Kubernetes API v1.32, java " + Runtime.version() + ")");
  }
}
