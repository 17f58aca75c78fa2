"""Send one cloud-to-device message as the Python service SDK does.

This is what azure-iot-hub's send_c2d_message runs (Azure/azure-iot-hub-python,
src/azure/iot/hub/iothub_amqp_client.py: IoTHubAmqpClientSharedAccessKeyAuth
and IoTHubAmqpClientBase.send_message_to_device), line for line on uamqp, with
two additions the SDK has no option for: the AMQP port (the SDK always dials
5671) and the CA file to trust (the SDK uses the system roots).

usage: send_c2d_uamqp.py CONNECTION_STRING AMQP_PORT CA_FILE DEVICE_ID BODY [key=value ...]
"""
import base64
import hashlib
import hmac
import sys
import time
import urllib.parse
from uuid import uuid4

import uamqp
from azure.core.credentials import AccessToken

default_sas_expiry = 3600


def parse_connection_string(cs):
    return dict(part.split("=", 1) for part in cs.split(";") if part)


def main():
    cs, port, ca_file, device_id, body = sys.argv[1:6]
    app_props = dict(kv.split("=", 1) for kv in sys.argv[6:])
    parts = parse_connection_string(cs)
    hostname = parts["HostName"]
    shared_access_key_name = parts["SharedAccessKeyName"]
    shared_access_key = parts["SharedAccessKey"]

    def get_token():
        expiry = int(time.time() + default_sas_expiry)
        sas = base64.b64decode(shared_access_key)
        string_to_sign = (hostname + "\n" + str(expiry)).encode("utf-8")
        signed_hmac_sha256 = hmac.HMAC(sas, string_to_sign, hashlib.sha256)
        signature = urllib.parse.quote(base64.b64encode(signed_hmac_sha256.digest()))
        return AccessToken(
            "SharedAccessSignature sr={}&sig={}&se={}&skn={}".format(
                hostname, signature, expiry, shared_access_key_name
            ),
            expiry,
        )

    transport_type = uamqp.TransportType.Amqp
    auth = uamqp.authentication.JWTTokenAuth(
        audience="https://" + hostname,
        uri="https://" + hostname,
        get_token=get_token,
        token_type=b"servicebus.windows.net:sastoken",
        transport_type=transport_type,
        port=int(port),  # addition: the emulator's AMQP port
        verify=ca_file,  # addition: the emulator's CA
    )
    auth.update_token()
    client = uamqp.SendClient(
        target="amqps://" + hostname + "/messages/devicebound",
        auth=auth,
        keep_alive_interval=120,
        transport_type=transport_type,
    )

    # send_message_to_device, as the SDK writes it
    msg_props = uamqp.message.MessageProperties()
    msg_props.message_id = str(uuid4())
    msg_props.to = "/devices/{}/messages/devicebound".format(device_id)
    app_properties = {}
    for prop_key, prop_value in app_props.items():
        if prop_key == "contentType":
            msg_props.content_type = prop_value
        elif prop_key == "contentEncoding":
            msg_props.content_encoding = prop_value
        elif prop_key == "correlationId":
            msg_props.correlation_id = prop_value
        elif prop_key == "expiryTimeUtc":
            msg_props.absolute_expiry_time = prop_value
        elif prop_key == "messageId":
            msg_props.message_id = prop_value
        else:
            app_properties[prop_key] = prop_value
    message = uamqp.Message(body, properties=msg_props, application_properties=app_properties)
    client.queue_message(message)
    results = client.send_all_messages(close_on_done=False)
    client.close()
    if uamqp.constants.MessageState.SendFailed in results:
        raise Exception("C2D message send failure")
    print("sent", msg_props.message_id)


if __name__ == "__main__":
    main()
