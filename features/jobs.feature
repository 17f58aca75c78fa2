@jobs
Feature: Scheduled jobs
  A back-end service that manages a fleet schedules jobs: a twin update or a
  direct method for every device a query condition picks, now or later
  (PUT /jobs/v2/{id}). The hub runs the job on each device, counts how many
  succeeded and failed, and the service follows its status until it has
  completed. A job that has not started can be cancelled and then never runs.

  @smoke
  Scenario: The service schedules a twin update for the devices of one site
    Given device "north1" exists
    And device "north2" exists
    And device "south1" exists
    And the service has patched the twin of device "north1":
      """
      {"tags": {"site": "north"}}
      """
    And the service has patched the twin of device "north2":
      """
      {"tags": {"site": "north"}}
      """
    And the service has patched the twin of device "south1":
      """
      {"tags": {"site": "south"}}
      """
    And device "north1" is connected
    When the service schedules job "retune" updating the twins of devices where tags.site = 'north':
      """
      {"tags": {"tuned": true}, "properties": {"desired": {"interval": 30}}}
      """
    Then job "retune" is completed
    And job "retune" counts 2 devices: 2 succeeded, 0 failed
    And the twin of device "north1" has desired "interval" equal to 30
    And the twin of device "north2" has tag "tuned" equal to true
    And the twin of device "south1" does not have desired "interval"
    And device "north1" receives a desired patch with "interval" equal to 30

  Scenario: A method job calls every connected device and counts the one that is offline as failed
    Given device "online" exists
    And device "offline" exists
    And device "online" is connected
    And device "online" answers method "reboot" with status 200 and payload {"rebooted":true}
    When the service schedules job "reboots" calling method "reboot" on devices where status = 'enabled' with payload {"delay":1}
    Then job "reboots" is completed
    And job "reboots" counts 2 devices: 1 succeeded, 1 failed
    And device "online" received method "reboot" with payload {"delay":1}

  Scenario: A job cancelled before its start time never runs
    Given device "kept" exists
    When the service schedules job "later" updating the twins of devices where status = 'enabled' in an hour:
      """
      {"tags": {"touched": true}}
      """
    Then job "later" is scheduled
    When the service cancels job "later"
    Then job "later" is cancelled
    And job "later" counts 0 devices: 0 succeeded, 0 failed
    And the twin of device "kept" does not have tag "touched"
