package dev.skiff.runtime;

import io.fabric8.kubernetes.client.KubernetesClient;
import java.nio.file.Path;
import java.util.Map;

/**
 * What a component gets when it starts.
 *
 * @param client a client authenticated as the cluster admin (the component's identity later)
 * @param dataDir the server's state directory; components keep their own state in a
 *     subdirectory named after themselves
 * @param nodeName this machine's node name (host name unless overridden)
 * @param options component options from the command line ({@code --set component.key=value})
 */
public record ComponentContext(KubernetesClient client, Path dataDir, String nodeName, Map<String, String> options) {}
