Feature: An outline run by its rows
  Each Examples row is a scenario of its own, which reports name by its
  row's line: file.feature:LINE with that line runs the row alone.

  Scenario Outline: The service creates device <name>
    When the service creates device "<name>" with hub-assigned keys
    Then device "<name>" has two hub-assigned keys

    Examples:
      | name  |
      | north |
      | south |
      | east  |

  Scenario: A plain scenario after the outline
    When the service creates device "west" with hub-assigned keys
    Then device "west" has two hub-assigned keys
