@configurations
Feature: Automatic device and module configurations
  A back-end service manages a fleet's settings with configurations: each
  names a target condition over the twins' tags and reported properties, a
  priority, and desired properties to set. The hub merges the content of the
  highest-priority configuration targeting a twin into its desired
  properties (between equal priorities, the one created last wins), shows on
  the twin which configurations target it and which is applied, and counts
  targeted and applied twins and custom metrics. The emulator applies a
  configuration at once; a live hub within minutes, which the checks wait
  for. Each configuration is named under the scenario and targets only the
  scenario's own devices.

  Background:
    Given device "north1" exists
    And device "north2" exists
    And device "south" exists
    And the service has patched the twin of device "north1":
      """
      {"tags": {"site": "north"}}
      """
    And the service has patched the twin of device "north2":
      """
      {"tags": {"site": "north"}}
      """
    And the service has patched the twin of device "south":
      """
      {"tags": {"site": "south"}}
      """

  @smoke
  Scenario: A configuration sets the desired properties of the twins it targets
    When the service creates device configuration "fw" with priority 10 targeting tags.site = 'north' to set:
      """
      {"properties.desired.firmware": {"version": "1.2", "channel": "stable"}}
      """
    Then the twin of device "north1" has desired "firmware.version" equal to "1.2"
    And the twin of device "north2" has desired "firmware.channel" equal to "stable"
    And the twin of device "south" does not have desired "firmware"
    And the twin of device "north1" shows configuration "fw" Applied
    And the twin of device "south" shows configuration "fw" nowhere
    And configuration "fw" counts 2 targeted and 2 applied twins

  Scenario: The highest priority wins, and a twin tagged later is configured too
    When the service creates device configuration "base" with priority 10 targeting tags.site = 'north' to set:
      """
      {"properties.desired": {"mode": "eco"}}
      """
    And the service creates device configuration "boost" with priority 20 targeting tags.site = 'north' to set:
      """
      {"properties.desired": {"mode": "boost"}}
      """
    Then the twin of device "north1" has desired "mode" equal to "boost"
    And the twin of device "north1" shows configuration "boost" Applied
    And the twin of device "north1" shows configuration "base" Targeted
    When the service patches the twin of device "south":
      """
      {"tags": {"site": "north"}}
      """
    Then the twin of device "south" has desired "mode" equal to "boost"
    And configuration "base" counts 3 targeted and 0 applied twins
    And configuration "boost" counts 3 targeted and 3 applied twins

  Scenario: Lowering a priority or deleting the winner lets the next configuration apply
    Given the service creates device configuration "base" with priority 10 targeting tags.site = 'north' to set:
      """
      {"properties.desired": {"mode": "eco"}}
      """
    And the service creates device configuration "boost" with priority 20 targeting tags.site = 'north' to set:
      """
      {"properties.desired": {"mode": "boost"}}
      """
    When the service changes configuration "boost" to priority 5
    Then the twin of device "north2" has desired "mode" equal to "eco"
    And the twin of device "north2" shows configuration "base" Applied
    When the service deletes configuration "base"
    Then the twin of device "north2" has desired "mode" equal to "boost"
    And the twin of device "north2" shows configuration "base" nowhere
    And configuration "boost" counts 2 targeted and 2 applied twins

  Scenario: A module configuration reaches a connected module, and a custom metric counts what it reports
    Given module "agent" exists on device "north1"
    And module "agent" on device "north1" is connected
    And the service has patched the twin of module "agent" on device "north1":
      """
      {"tags": {"role": "agent"}}
      """
    When the service creates module configuration "agents" with priority 1 targeting tags.role = 'agent' to set:
      """
      {"properties.desired.interval": 30}
      """
    Then module "agent" on device "north1" receives desired patches in version order until "interval" is 30
    And the twin of device "north1" shows configuration "agents" nowhere
    When module "agent" on device "north1" reports "interval" as 30
    And the service adds to configuration "agents" the metric "synced": SELECT moduleId FROM devices.modules WHERE configurations.[[agents]].status = 'Applied' AND properties.reported.interval = 30
    Then configuration "agents" counts 1 for the metric "synced"
    And configuration "agents" counts 1 targeted and 1 applied twin

  Scenario: The service tests a target condition and metric queries before using them
    Then the hub finds the target condition "tags.site = 'north' AND properties.reported.fw > 2" valid
    And the hub finds the target condition "tags.site = " invalid
    And the hub finds the metric query "SELECT deviceId FROM devices WHERE configurations.[[fw]].status = 'Applied'" valid
    And the hub finds the metric query "SELECT FROM devices" invalid

  Scenario: Content outside the desired properties is refused
    When the service creates device configuration "bad" with priority 1 targeting * to set:
      """
      {"properties.reported.mode": "eco"}
      """
    Then the hub refuses with 400 InvalidConfigurationContent

  Scenario: A target condition the query language does not accept is refused
    When the service creates device configuration "bad" with priority 1 targeting tags.site = to set:
      """
      {"properties.desired.mode": "eco"}
      """
    Then the hub refuses with 400 ArgumentInvalid

  Scenario: A configuration cannot be created twice
    Given the service creates device configuration "fw" with priority 1 targeting * to set:
      """
      {"properties.desired.mode": "eco"}
      """
    When the service creates device configuration "fw" with priority 2 targeting * to set:
      """
      {"properties.desired.mode": "boost"}
      """
    Then the hub refuses with 409 ConfigurationAlreadyExists
    And the twin of device "south" has desired "mode" equal to "eco"
