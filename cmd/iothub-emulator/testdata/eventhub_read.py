#!/usr/bin/env python3
"""eventhub_read.py MODE TRANSPORT: read one event from the emulator's
built-in endpoint with Microsoft's azure-eventhub package (Debian's
python3-azure, 5.11) and check it.

It is given what a back-end is given: the Event Hubs-compatible connection
string the emulator prints (EVENTHUB_CONNECTION_STRING in the environment)
and the CA to trust (--ca-file). No Hubspec code is involved, so a bug that
Hubspec's clients and its emulator agree on cannot hide here.

MODE says which event to look for and how to check it:
  telemetry   the device's first message (iothub-message-source Telemetry):
              --body and every --property NAME=VALUE (repeatable) must match.
  twinchange  the device's first twin-change event (iothub-message-source
              twinChangeEvents): opType updateTwin, the schema
              twinChangeNotification, and every --reported NAME=JSON
              (repeatable) in the body's properties.reported.
More modes add an entry to MODES: the message source they look for and
their checker.

TRANSPORT is how the client connects:
  amqp       AMQP over TLS, to the host and port of the connection string.
  websocket  AMQP over WebSockets (TransportType.AmqpOverWebsocket), to
             --websocket-endpoint https://HOST:PORT (the emulator's HTTPS
             port; the client dials wss://HOST:PORT/$servicebus/websocket).

Every partition is read from its start; the first event of --device-id
from the mode's message source is checked. Exit status 0 and a PASS line when it matches; 1 and a FAIL line
when it does not, or when no event of the device arrives within --timeout
seconds.
"""

import argparse
import json
import os
import sys
import threading

from azure.eventhub import EventHubConsumerClient, TransportType


def text(value):
    """Keys and values arrive as bytes; compare them as text."""
    return value.decode("utf-8") if isinstance(value, bytes) else value


def as_text(mapping):
    return {text(k): text(v) for k, v in (mapping or {}).items()}


def device_of(event):
    return as_text(event.system_properties).get("iothub-connection-device-id")


def source_of(event):
    return as_text(event.system_properties).get("iothub-message-source")


def check_telemetry(args, event):
    """The problems with a telemetry event, [] when it is as expected."""
    problems = []
    body = event.body_as_str(encoding="UTF-8")
    if body != args.body:
        problems.append("body %r, want %r" % (body, args.body))
    props = as_text(event.properties)
    for pair in args.property:
        name, _, want = pair.partition("=")
        if props.get(name) != want:
            problems.append("application property %s = %r, want %r (all: %r)" % (name, props.get(name), want, props))
    return problems


def check_twin_change(args, event):
    """The problems with a twin-change event, [] when it is as expected."""
    problems = []
    props = as_text(event.properties)
    for name, want in (("opType", "updateTwin"), ("iothub-message-schema", "twinChangeNotification"),
                       ("deviceId", args.device_id)):
        if props.get(name) != want:
            problems.append("application property %s = %r, want %r (all: %r)" % (name, props.get(name), want, props))
    try:
        body = json.loads(event.body_as_str(encoding="UTF-8"))
    except ValueError as err:
        return problems + ["body is not JSON: %s" % err]
    reported = (body.get("properties") or {}).get("reported") or {}
    for pair in args.reported:
        name, _, want = pair.partition("=")
        if reported.get(name) != json.loads(want):
            problems.append("reported %s = %r, want %r (body: %s)" % (name, reported.get(name), json.loads(want), body))
    return problems


# MODES: for each mode, the iothub-message-source of the events it looks
# for and the checker of the first such event of the device.
MODES = {"telemetry": ("Telemetry", check_telemetry), "twinchange": ("twinChangeEvents", check_twin_change)}


def client_for(args):
    conn_str = os.environ.get("EVENTHUB_CONNECTION_STRING")
    if not conn_str:
        sys.exit("FAIL: EVENTHUB_CONNECTION_STRING is not set")
    kwargs = {"consumer_group": "$Default", "connection_verify": args.ca_file}
    if args.transport == "websocket":
        if not args.websocket_endpoint:
            sys.exit("FAIL: websocket needs --websocket-endpoint")
        kwargs["transport_type"] = TransportType.AmqpOverWebsocket
        kwargs["custom_endpoint_address"] = args.websocket_endpoint
    return EventHubConsumerClient.from_connection_string(conn_str, **kwargs)


def read_first(args):
    """The first event of the device, or None after the timeout."""
    client = client_for(args)
    found, errors, seen = [], [], []
    done = threading.Event()

    def on_event(_partition, event):
        if event is None:
            return
        seen.append("%s (%s)" % (device_of(event), source_of(event)))
        if device_of(event) == args.device_id and source_of(event) == MODES[args.mode][0] and not found:
            found.append(event)
            done.set()

    def on_error(partition, error):
        errors.append("%s: %r" % (getattr(partition, "partition_id", "-"), error))

    receiver = threading.Thread(
        target=client.receive,
        kwargs={"on_event": on_event, "on_error": on_error, "starting_position": "-1"},
        daemon=True,
    )
    receiver.start()
    done.wait(args.timeout)
    client.close()
    receiver.join(args.timeout)
    return (found[0] if found else None), errors, seen


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("mode", choices=sorted(MODES))
    parser.add_argument("transport", choices=["amqp", "websocket"])
    parser.add_argument("--ca-file", required=True)
    parser.add_argument("--device-id", required=True)
    parser.add_argument("--body", default="")
    parser.add_argument("--property", action="append", default=[], metavar="NAME=VALUE")
    parser.add_argument("--reported", action="append", default=[], metavar="NAME=JSON")
    parser.add_argument("--websocket-endpoint", metavar="https://HOST:PORT")
    parser.add_argument("--timeout", type=float, default=30)
    args = parser.parse_args()

    event, errors, seen = read_first(args)
    where = "%s over %s" % (args.mode, args.transport)
    if event is None:
        print("FAIL: %s: no event of %s within %ss; events seen from %s; errors: %s"
              % (where, args.device_id, args.timeout, seen or "none", errors or "none"))
        return 1
    problems = MODES[args.mode][1](args, event)
    if problems:
        print("FAIL: %s: %s" % (where, "; ".join(problems)))
        return 1
    print("PASS: %s: azure-eventhub read %s's event: %r" % (where, args.device_id, event.body_as_str(encoding="UTF-8")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
