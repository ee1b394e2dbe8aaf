package dev.skiff.kubelet.cri;

import java.io.IOException;

/** A container that cannot be created as configured; {@link #reason()} is the waiting reason. */
public final class ContainerConfigException extends IOException {
  private final String reason;

  public ContainerConfigException(String reason, String message) {
    super(message);
    this.reason = reason;
  }

  public String reason() {
    return reason;
  }
}
