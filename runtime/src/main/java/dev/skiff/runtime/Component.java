package dev.skiff.runtime;

/**
 * A part of Skiff that runs against the cluster through the API only (controllers, scheduler,
 * node agent, serving): {@code skiff server} starts every component after the API server is
 * ready, each with its own client, and closes them in reverse order on shutdown. The same
 * component runs unchanged in-JVM or on another machine.
 */
public interface Component {
  /** A short name for logs and for {@code --disable NAME}. */
  String name();

  /** Starts the component; the returned handle stops it. Must not block for long. */
  AutoCloseable start(ComponentContext context) throws Exception;
}
