package dev.skiff.serving.v1;

import com.fasterxml.jackson.annotation.JsonInclude;
import java.util.Objects;

/** One entry of a routing table (TrafficTarget, route_types.go). */
@JsonInclude(JsonInclude.Include.NON_NULL)
public class TrafficTarget extends Extensible {
  private String tag;
  private String revisionName;
  private String configurationName;
  private Boolean latestRevision;
  private Long percent;
  private String url;

  public String getTag() { return tag; }
  public void setTag(String tag) { this.tag = tag; }
  public String getRevisionName() { return revisionName; }
  public void setRevisionName(String revisionName) { this.revisionName = revisionName; }
  public String getConfigurationName() { return configurationName; }
  public void setConfigurationName(String configurationName) { this.configurationName = configurationName; }
  public Boolean getLatestRevision() { return latestRevision; }
  public void setLatestRevision(Boolean latestRevision) { this.latestRevision = latestRevision; }
  public Long getPercent() { return percent; }
  public void setPercent(Long percent) { this.percent = percent; }
  public String getUrl() { return url; }
  public void setUrl(String url) { this.url = url; }

  @Override
  public boolean equals(Object o) {
    return o instanceof TrafficTarget t && Objects.equals(tag, t.tag) && Objects.equals(revisionName, t.revisionName)
        && Objects.equals(configurationName, t.configurationName) && Objects.equals(latestRevision, t.latestRevision)
        && Objects.equals(percent, t.percent) && Objects.equals(url, t.url);
  }

  @Override
  public int hashCode() {
    return Objects.hash(tag, revisionName, configurationName, latestRevision, percent, url);
  }
}
