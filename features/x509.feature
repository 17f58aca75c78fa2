@x509
Feature: Devices and modules that authenticate with X.509 certificates
  A device or module can prove who it is with an X.509 certificate in the
  TLS handshake instead of a SAS token, and then sends no password. The
  registry holds either the thumbprint of the identity's self-signed
  certificate (primary and secondary, SHA-1 or SHA-256), or says that any
  certificate a trusted certificate authority signed for it will do, its
  common name being the device id, or device id/module id for a module.
  The hub refuses a certificate that is not the identity's, has expired,
  names another identity or comes from a CA it does not trust, and it does
  not let SAS and certificates stand in for each other. Only an emulator
  can be made to trust a certificate authority, so those scenarios run on
  it alone.

  Scenario: A device connects with its self-signed certificate and reports
    Given the service creates device "meter" with a self-signed certificate
    And device "meter" is registered with the thumbprint of its self-signed certificate
    When device "meter" is connected with its self-signed certificate
    And device "meter" reports "auth" as "x509"
    Then the hub acknowledged the report of device "meter" with reported version 2
    And the twin of device "meter" has reported "auth" equal to "x509"

  Scenario: A module connects with its self-signed certificate and receives a desired change
    Given device "house" exists
    And the service creates module "thermostat" on device "house" with a self-signed certificate
    When module "thermostat" is connected with its self-signed certificate
    And the service sets desired "telemetryInterval" of module "thermostat" to 30
    Then module "thermostat" receives a desired patch with "telemetryInterval" equal to 30

  Scenario: Either registered thumbprint lets the device in, SHA-1 or SHA-256
    Given the service creates device "meter" with two self-signed certificates
    And device "meter" is registered with the thumbprints of its two self-signed certificates
    When device "meter" is connected with its second self-signed certificate
    And device "meter" disconnects
    And device "meter" is connected with its self-signed certificate
    Then the twin of device "meter" as the device reads it has "reported.$version" equal to 1

  Scenario Outline: The hub refuses a self-signed device that connects with <credentials>
    Given the service creates device "meter" with a self-signed certificate
    When device "meter" connects with <credentials>
    Then the hub refuses the connection as not authorized

    Examples:
      | credentials                                       |
      | a self-signed certificate that is not registered |
      | a wrong key                                       |

  Scenario: The hub refuses a self-signed certificate that has expired, although its thumbprint is registered
    Given the service creates device "meter" with an expired self-signed certificate
    When device "meter" connects with its self-signed certificate
    Then the hub refuses the connection as not authorized

  Scenario: The hub refuses a SAS device that connects with a certificate instead of its key
    Given device "house" exists
    When device "house" connects with a self-signed certificate that is not registered
    Then the hub refuses the connection as not authorized

  Scenario: The hub refuses a device with a certificate from a CA it does not trust
    Given certificate authority "stranger" exists but the hub does not trust it
    And the service creates device "meter" with certificate authority authentication
    And device "meter" is registered with certificate authority authentication
    When device "meter" connects with a certificate signed by certificate authority "stranger"
    Then the hub refuses the connection as not authorized

  Scenario: A disabled self-signed device cannot connect with its certificate
    Given the service creates device "meter" with a self-signed certificate
    And the service has disabled device "meter"
    When device "meter" connects with its self-signed certificate
    Then the hub refuses the connection as the device is disabled

  Scenario: A module of a disabled device cannot connect with its certificate
    Given device "house" exists
    And the service creates module "thermostat" on device "house" with a self-signed certificate
    And the service has disabled device "house"
    When module "thermostat" connects with its self-signed certificate
    Then the hub refuses the connection as the device is disabled

  Scenario: The service cannot register a thumbprint that is not one
    When the service creates device "meter" with a malformed thumbprint
    Then the hub refuses with 400 ArgumentInvalid

  @emulator-only
  Scenario: A device connects with a certificate signed by a trusted certificate authority
    Given the hub trusts certificate authority "factory"
    And the service creates device "meter" with certificate authority authentication
    When device "meter" is connected with a certificate signed by certificate authority "factory"
    And device "meter" reports "auth" as "ca"
    Then the hub acknowledged the report of device "meter" with reported version 2

  @emulator-only
  Scenario: A module's certificate names the device and the module
    Given the hub trusts certificate authority "factory"
    And device "house" exists
    And the service creates module "thermostat" on device "house" with certificate authority authentication
    When module "thermostat" is connected with a certificate signed by certificate authority "factory"
    Then the twin of module "thermostat" as the module reads it has "reported.$version" equal to 1

  @emulator-only
  Scenario Outline: The hub refuses a CA-authenticated device that connects with <credentials>
    Given the hub trusts certificate authority "factory"
    And the service creates device "meter" with certificate authority authentication
    When device "meter" connects with <credentials>
    Then the hub refuses the connection as not authorized

    Examples:
      | credentials                                                                  |
      | an expired certificate signed by certificate authority "factory"            |
      | a certificate for another identity signed by certificate authority "factory" |
      | a self-signed certificate that is not registered                            |

  @emulator-only
  Scenario: A self-signed device cannot use a certificate a trusted CA signed for it
    Given the hub trusts certificate authority "factory"
    And the service creates device "meter" with a self-signed certificate
    When device "meter" connects with a certificate signed by certificate authority "factory"
    Then the hub refuses the connection as not authorized
