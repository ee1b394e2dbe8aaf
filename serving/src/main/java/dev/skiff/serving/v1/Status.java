package dev.skiff.serving.v1;

import com.fasterxml.jackson.annotation.JsonInclude;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The status of any of the four kinds (duckv1.Status plus each kind's fields; a kind leaves the
 * others null): conditions and observedGeneration; ConfigurationStatusFields (latestCreated /
 * latestReadyRevisionName); RouteStatusFields (url, address, traffic); RevisionStatus
 * (serviceName, logUrl, containerStatuses, actualReplicas, desiredReplicas).
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public class Status extends Extensible {
  private Long observedGeneration;
  private List<Condition> conditions;
  private String latestCreatedRevisionName;
  private String latestReadyRevisionName;
  private String url;
  private Map<String, String> address;
  private List<TrafficTarget> traffic;
  private String serviceName;
  private String logUrl;
  private List<Map<String, String>> containerStatuses;
  private Integer actualReplicas;
  private Integer desiredReplicas;

  public Long getObservedGeneration() { return observedGeneration; }
  public void setObservedGeneration(Long v) { this.observedGeneration = v; }
  public List<Condition> getConditions() { return conditions; }
  public void setConditions(List<Condition> v) { this.conditions = v; }
  public String getLatestCreatedRevisionName() { return latestCreatedRevisionName; }
  public void setLatestCreatedRevisionName(String v) { this.latestCreatedRevisionName = v; }
  public String getLatestReadyRevisionName() { return latestReadyRevisionName; }
  public void setLatestReadyRevisionName(String v) { this.latestReadyRevisionName = v; }
  public String getUrl() { return url; }
  public void setUrl(String v) { this.url = v; }
  public Map<String, String> getAddress() { return address; }
  public void setAddress(Map<String, String> v) { this.address = v; }
  public List<TrafficTarget> getTraffic() { return traffic; }
  public void setTraffic(List<TrafficTarget> v) { this.traffic = v; }
  public String getServiceName() { return serviceName; }
  public void setServiceName(String v) { this.serviceName = v; }
  public String getLogUrl() { return logUrl; }
  public void setLogUrl(String v) { this.logUrl = v; }
  public List<Map<String, String>> getContainerStatuses() { return containerStatuses; }
  public void setContainerStatuses(List<Map<String, String>> v) { this.containerStatuses = v; }
  public Integer getActualReplicas() { return actualReplicas; }
  public void setActualReplicas(Integer v) { this.actualReplicas = v; }
  public Integer getDesiredReplicas() { return desiredReplicas; }
  public void setDesiredReplicas(Integer v) { this.desiredReplicas = v; }

  /** The condition of {@code type}, or null. */
  public Condition condition(String type) {
    if (conditions != null) {
      for (Condition c : conditions) {
        if (type.equals(c.getType())) {
          return c;
        }
      }
    }
    return null;
  }

  /** Whether the condition of {@code type} has status True. */
  public boolean isTrue(String type) {
    Condition c = condition(type);
    return c != null && "True".equals(c.getStatus());
  }

  /** Whether the condition of {@code type} has status False. */
  public boolean isFalse(String type) {
    Condition c = condition(type);
    return c != null && "False".equals(c.getStatus());
  }

  List<Condition> mutableConditions() {
    if (conditions == null) {
      conditions = new ArrayList<>();
    }
    return conditions;
  }
}
