#!/usr/bin/env bash
# The $ in MQTT topics is literal ($iothub/...), hence single quotes:
# shellcheck disable=SC2016
#
# foreign_clients.sh BINARY [HTTPS_PORT MQTT_PORT]
#
# Proves the emulator works with clients that share no code with Hubspec:
# curl for the registry and twin REST API, mosquitto_sub/mosquitto_pub for
# MQTT, and SAS tokens computed with openssl as IoT Hub's security-token
# documentation specifies them: HMAC-SHA256 keyed with the base64-decoded
# key over urlencode(sr) + "\n" + se, then base64 and URL-encoded.
#
# It starts BINARY on loopback with a known owner key, creates a device and
# a module with hub-assigned keys, connects the module with mosquitto_sub,
# patches the module twin's desired telemetryInterval with curl and checks
# that mosquitto_sub got the push, reports it back with mosquitto_pub, reads
# it back with curl, calls a direct method on the module with curl and
# answers it with mosquitto_sub/mosquitto_pub, sees a call on the device,
# which never connected, refused as DeviceNotOnline, and checks that a
# wrong module key is refused. Then
# X.509: openssl makes a self-signed device certificate and a CA (given to
# BINARY with -device-ca) that signs another device's certificate; curl
# registers the first device by its SHA-1 thumbprint and the second as
# certificateAuthority; mosquitto_pub reports a property of each with
# --cert/--key and no password, and is refused with a certificate that is
# not the device's, and for a SAS device.
# Then it queries the twins as the Python service SDK's query_iot_hub does (POST
# /devices/query, {"query": ...}, x-ms-max-item-count, x-ms-continuation)
# and reads the headers that SDK reads back (x-ms-item-type,
# x-ms-continuation), sends bulk registry operations as
# bulk_create_or_update_devices does, reads the registry and service
# statistics, manages a configuration as IoTHubConfigurationManager does,
# and meets the 404 of a route that is not emulated. Last, Plug and
# Play: the device connects announcing its model in the user name, curl reads
# its twin and digital twin, patches the digital twin (the device gets the
# desired patch with the component marker) and calls a component command
# that the device answers as a direct method.
# Every wait is bounded: read -t, curl --max-time, mosquitto -W.
set -euo pipefail

for tool in curl openssl mosquitto_sub mosquitto_pub stdbuf od mkfifo; do
	command -v "$tool" >/dev/null || { echo "FAIL: $tool is not installed" >&2; exit 2; }
done

bin=${1:?usage: foreign_clients.sh BINARY [HTTPS_PORT MQTT_PORT]}
https_port=${2:-28443}
mqtt_port=${3:-28883}
owner_key=AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA=
device=foreignDevice
module=foreignModule
api='api-version=2021-04-12'

work=$(mktemp -d)
emu_pid=
sub_pid=
call_pid=
cleanup() {
	set +e
	if [ -n "$sub_pid" ]; then kill "$sub_pid" 2>/dev/null; fi
	if [ -n "$call_pid" ]; then kill "$call_pid" 2>/dev/null; fi
	if [ -n "$emu_pid" ]; then
		kill "$emu_pid" 2>/dev/null
		wait "$emu_pid" 2>/dev/null
	fi
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

fail() {
	echo "FAIL: $*" >&2
	for f in "$work"/*.log; do
		[ -s "$f" ] && { echo "--- $(basename "$f"):"; tail -n 40 "$f"; } >&2
	done
	exit 1
}
step() { echo "--- $*"; }

# urlencode percent-encodes everything but RFC 3986 unreserved characters.
urlencode() {
	local s=$1 out='' c i
	for ((i = 0; i < ${#s}; i++)); do
		c=${s:i:1}
		case $c in
		[a-zA-Z0-9.~_-]) out+=$c ;;
		*) out+=$(printf '%%%02X' "'$c") ;;
		esac
	done
	printf '%s' "$out"
}

# sas RESOURCE KEY [POLICY]: a SAS token valid for an hour.
sas() {
	local sr se keyhex sig
	sr=$(urlencode "$1")
	se=$(($(date +%s) + 3600))
	keyhex=$(printf '%s' "$2" | openssl base64 -d -A | od -An -v -tx1 | tr -d ' \n')
	sig=$(printf '%s\n%s' "$sr" "$se" | openssl dgst -sha256 -mac HMAC -macopt "hexkey:$keyhex" -binary | openssl base64 -A)
	printf 'SharedAccessSignature sr=%s&sig=%s&se=%s' "$sr" "$(urlencode "$sig")" "$se"
	if [ -n "${3:-}" ]; then printf '&skn=%s' "$3"; fi
}

# hub METHOD PATH WANT_STATUS [BODY [HEADER]]: one REST call as iothubowner;
# the answer's body lands in $work/body.
hub() {
	local status
	status=$(curl -sS --max-time 10 --cacert "$ca" -X "$1" -o "$work/body" -w '%{http_code}' \
		-H "Authorization: $(sas "$host" "$owner_key" iothubowner)" \
		-H 'Content-Type: application/json' ${5:+-H "$5"} ${4:+--data "$4"} \
		"https://$host$2?$api") || fail "curl $1 $2"
	[ "$status" = "$3" ] || fail "$1 $2 answered $status, want $3: $(cat "$work/body")"
}

# newcert NAME SUBJECT [openssl req options]: an EC P-256 key and a
# self-signed certificate valid for a day, $work/NAME.key and $work/NAME.pem.
newcert() {
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
		-keyout "$work/$1.key" -out "$work/$1.pem" -subj "$2" "${@:3}" 2>>"$work/openssl.log" ||
		fail "openssl: certificate $1"
}

step "openssl: a CA for -device-ca"
newcert deviceca /CN=ForeignDeviceCA -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign

step "start $bin on 127.0.0.1:$https_port (HTTPS) and :$mqtt_port (MQTT)"
ca=$work/ca.pem
mkfifo "$work/stdout"
"$bin" -https-addr "127.0.0.1:$https_port" -mqtt-addr "127.0.0.1:$mqtt_port" -amqp-addr 127.0.0.1:0 -device-ca "$work/deviceca.pem" \
	-owner-key "$owner_key" -ca-out "$ca" -log-level debug >"$work/stdout" 2>"$work/emulator.log" &
emu_pid=$!
exec 3<"$work/stdout"
read -r -t 15 line <&3 || fail "no connection string line within 15 s"
case $line in
IOTHUB_CONNECTION_STRING=HostName=*) ;;
*) fail "first stdout line is $line" ;;
esac
host=${line#IOTHUB_CONNECTION_STRING=HostName=}
host=${host%%;*} # localhost:PORT, exactly as SDKs would use it
[ "${line##*SharedAccessKey=}" = "$owner_key" ] || fail "the connection string does not carry -owner-key: $line"

step "curl: create device $device and module $module with hub-assigned keys"
empty='"authentication":{"type":"sas","symmetricKey":{"primaryKey":"","secondaryKey":""}}'
hub PUT "/devices/$device" 200 "{\"deviceId\":\"$device\",$empty}"
hub PUT "/devices/$device/modules/$module" 200 "{\"deviceId\":\"$device\",\"moduleId\":\"$module\",$empty}"
module_key=$(grep -o '"primaryKey":"[^"]*"' "$work/body" | head -n 1 | cut -d'"' -f4)
[ ${#module_key} -eq 44 ] || fail "module primary key is '$module_key', want 44 base64 characters"
hub PUT "/devices/$device" 409 "{\"deviceId\":\"$device\",$empty}"

# The module's MQTT identity, as the SDKs build it: client id
# {device}/{module}, user name {host}/{device}/{module}/?api-version=....
mqtt_args=(-h 127.0.0.1 -p "$mqtt_port" --cafile "$ca" -V mqttv311 -i "$device/$module"
	-u "$host/$device/$module/?$api")
module_sas=$(sas "$host/devices/$device/modules/$module" "$module_key")

step "mosquitto_sub: the module subscribes to desired patches"
mkfifo "$work/sub"
# stdbuf: mosquitto_sub prints -d lines with stdio, which a pipe would buffer.
stdbuf -oL mosquitto_sub "${mqtt_args[@]}" -P "$module_sas" -c -q 1 -d -v -C 1 -W 15 \
	-t '$iothub/twin/PATCH/properties/desired/#' >"$work/sub" 2>"$work/mosquitto_sub.log" &
sub_pid=$!
exec 4<"$work/sub"
# -d prints the exchange; the patch is sent only once SUBACK is in.
while :; do
	read -r -t 15 line <&4 || fail "mosquitto_sub: no SUBACK within 15 s"
	echo "$line" >>"$work/mosquitto_sub.log"
	case $line in *"received SUBACK"*) break ;; esac
done

step "curl: patch the module twin's desired telemetryInterval to 122"
hub PATCH "/twins/$device/modules/$module" 200 '{"properties":{"desired":{"telemetryInterval":122}}}' 'If-Match: "*"'

step "mosquitto_sub: receives the patch"
patch=
while read -r -t 15 line <&4; do
	echo "$line" >>"$work/mosquitto_sub.log"
	case $line in '$iothub/twin/PATCH/properties/desired/?$version='*)
		patch=$line
		break
		;;
	esac
done
[ -n "$patch" ] || fail "mosquitto_sub printed no desired patch"
case $patch in *'"telemetryInterval":122'*) ;; *) fail "patch without telemetryInterval 122: $patch" ;; esac
case $patch in *'"$version":'*) ;; *) fail "patch without \$version: $patch" ;; esac
wait "$sub_pid" || fail "mosquitto_sub exited $?"
sub_pid=

step "mosquitto_pub: the module reports telemetryInterval 122"
# The same patch twice on one connection (-l: a message per line). The hub
# handles a connection's packets in order, answering each after its PUBACK,
# so the PUBACK of the second means the first has been applied; mosquitto_pub
# exits only once both are acknowledged.
printf '%s\n' '{"telemetryInterval":122}' '{"telemetryInterval":122}' |
	mosquitto_pub "${mqtt_args[@]}" -P "$module_sas" -q 1 -d -l \
		-t '$iothub/twin/PATCH/properties/reported/?$rid=1' >>"$work/mosquitto_pub.log" 2>&1 ||
	fail "mosquitto_pub of the reported patch exited $?"
[ "$(grep -c 'received PUBACK' "$work/mosquitto_pub.log")" -eq 2 ] ||
	fail "mosquitto_pub did not see both PUBACKs"

step "curl: the twin shows reported telemetryInterval 122"
hub GET "/twins/$device/modules/$module" 200
twin=$(cat "$work/body")
reported=${twin#*\"reported\":} # the last section of the twin
case $reported in *'"telemetryInterval":122'*) ;; *) fail "reported telemetryInterval 122 not in the twin: $twin" ;; esac

step "mosquitto_sub: the module subscribes to direct method calls"
mkfifo "$work/methods"
stdbuf -oL mosquitto_sub "${mqtt_args[@]}" -P "$module_sas" -c -q 1 -d -v -C 1 -W 15 \
	-t '$iothub/methods/POST/#' >"$work/methods" 2>>"$work/mosquitto_sub.log" &
sub_pid=$!
exec 5<"$work/methods"
while :; do
	read -r -t 15 line <&5 || fail "mosquitto_sub: no SUBACK for the method subscription within 15 s"
	echo "$line" >>"$work/mosquitto_sub.log"
	case $line in *"received SUBACK"*) break ;; esac
done

step "curl: the service calls method reboot on the module, and waits"
curl -sS --max-time 30 --cacert "$ca" -X POST -o "$work/method.body" -w '%{http_code}' \
	-H "Authorization: $(sas "$host" "$owner_key" iothubowner)" -H 'Content-Type: application/json' \
	--data '{"methodName":"reboot","payload":{"delay":5},"responseTimeoutInSeconds":20}' \
	"https://$host/twins/$device/modules/$module/methods?$api" >"$work/method.status" 2>>"$work/curl.log" &
call_pid=$!

step "mosquitto_sub: receives the call; mosquitto_pub answers it"
request=
while read -r -t 15 line <&5; do
	echo "$line" >>"$work/mosquitto_sub.log"
	case $line in '$iothub/methods/POST/reboot/?$rid='*)
		request=$line
		break
		;;
	esac
done
[ -n "$request" ] || fail "mosquitto_sub printed no method call"
[ "${request#* }" = '{"delay":5}' ] || fail "method call with the payload ${request#* }, want {\"delay\":5}"
rid=${request%% *}
rid=${rid#*'?$rid='}
wait "$sub_pid" || fail "mosquitto_sub exited $?"
sub_pid=
mosquitto_pub "${mqtt_args[@]}" -P "$module_sas" -q 1 -d -t "\$iothub/methods/res/201/?\$rid=$rid" \
	-m '{"rebooted":true}' >>"$work/mosquitto_pub.log" 2>&1 || fail "mosquitto_pub of the method answer exited $?"
wait "$call_pid" || fail "curl of the method call exited $?"
call_pid=
status=$(cat "$work/method.status")
[ "$status" = 200 ] || fail "the method call answered $status: $(cat "$work/method.body")"
[ "$(cat "$work/method.body")" = '{"status":201,"payload":{"rebooted":true}}' ] ||
	fail "the method call answered $(cat "$work/method.body")"

step "curl: a call on the device, which never connected, is 404 DeviceNotOnline"
hub POST "/twins/$device/methods" 404 '{"methodName":"reboot"}'
grep -q '404103' "$work/body" || fail "404 without DeviceNotOnline's 404103: $(cat "$work/body")"

step "mosquitto_pub: a wrong module key is refused"
wrong_sas=$(sas "$host/devices/$device/modules/$module" "$owner_key")
if mosquitto_pub "${mqtt_args[@]}" -P "$wrong_sas" -q 1 -t "devices/$device/modules/$module/messages/events/" \
	-m 'x' >>"$work/mosquitto_pub.log" 2>&1; then
	fail "mosquitto_pub with a wrong key was accepted"
fi
grep -q 'not authorised\|Connection Refused' "$work/mosquitto_pub.log" ||
	fail "mosquitto_pub with a wrong key failed, but not as refused"

# report DEVICE CERT WANT_PUBACKS: mosquitto_pub reports a property of
# DEVICE over a connection authenticated by $work/CERT.pem and its key alone.
report() {
	mosquitto_pub -h 127.0.0.1 -p "$mqtt_port" --cafile "$ca" -V mqttv311 -i "$1" -u "$host/$1/?$api" \
		--cert "$work/$2.pem" --key "$work/$2.key" -q 1 -d -m '{"auth":"x509"}' \
		-t '$iothub/twin/PATCH/properties/reported/?$rid=1' >"$work/mosquitto_x509.log" 2>&1
}

step "openssl: a self-signed device certificate, and a device certificate the CA signs"
self=x509SelfSigned
signed=x509CASigned
newcert "$self" "/CN=$self"
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$work/$signed.key" \
	-out "$work/$signed.csr" -subj "/CN=$signed" 2>>"$work/openssl.log" || fail "openssl: CSR of $signed"
openssl x509 -req -in "$work/$signed.csr" -CA "$work/deviceca.pem" -CAkey "$work/deviceca.key" \
	-CAcreateserial -days 1 -out "$work/$signed.pem" 2>>"$work/openssl.log" || fail "openssl: sign $signed"
thumbprint=$(openssl x509 -in "$work/$self.pem" -noout -fingerprint -sha1 | cut -d= -f2 | tr -d :)
[ ${#thumbprint} -eq 40 ] || fail "SHA-1 thumbprint is '$thumbprint'"

step "curl: create $self (selfSigned, thumbprint $thumbprint) and $signed (certificateAuthority)"
hub PUT "/devices/$self" 200 "{\"deviceId\":\"$self\",\"authentication\":{\"type\":\"selfSigned\",\"x509Thumbprint\":{\"primaryThumbprint\":\"$thumbprint\"}}}"
hub PUT "/devices/$signed" 200 "{\"deviceId\":\"$signed\",\"authentication\":{\"type\":\"certificateAuthority\"}}"

for who in "$self" "$signed"; do
	step "mosquitto_pub --cert: $who reports with its certificate and no password"
	report "$who" "$who" || fail "mosquitto_pub with the certificate of $who exited $?: $(cat "$work/mosquitto_x509.log")"
	grep -q 'received PUBACK' "$work/mosquitto_x509.log" || fail "mosquitto_pub as $who saw no PUBACK"
	hub GET "/twins/$who" 200
	case $(cat "$work/body") in *'"auth":"x509"'*) ;; *) fail "the twin of $who lacks the report: $(cat "$work/body")" ;; esac
done

for pair in "$self $signed" "$signed $self" "$device $self"; do
	read -r who cert <<<"$pair"
	step "mosquitto_pub --cert: $who with the certificate of $cert is refused"
	if report "$who" "$cert"; then fail "$who connected with the certificate of $cert"; fi
	grep -q 'not authorised\|Connection Refused' "$work/mosquitto_x509.log" ||
		fail "$who with the certificate of $cert failed, but not as refused: $(cat "$work/mosquitto_x509.log")"
done

# query WANT_STATUS BODY [CONTINUATION]: POST /devices/query as PYHUB's
# query_iot_hub sends it (azure-iot-hub, protocol/operations/
# query_operations.py): Accept and Content-Type JSON, x-ms-max-item-count
# 1, x-ms-continuation when given. The answer's headers land in
# $work/headers, its body in $work/body.
query() {
	local status
	status=$(curl -sS --max-time 10 --cacert "$ca" -X POST -D "$work/headers" -o "$work/body" -w '%{http_code}' \
		-H "Authorization: $(sas "$host" "$owner_key" iothubowner)" \
		-H 'Accept: application/json' -H 'Content-Type: application/json; charset=utf-8' \
		-H 'x-ms-max-item-count: 1' ${3:+-H "x-ms-continuation: $3"} --data "$2" \
		"https://$host/devices/query?$api") || fail "curl POST /devices/query"
	[ "$status" = "$1" ] || fail "POST /devices/query $2 answered $status, want $1: $(cat "$work/body")"
}
# header NAME: the value of a header of the last answer, "" when absent.
header() { grep -i "^$1:" "$work/headers" | head -n 1 | cut -d' ' -f2- | tr -d '\r'; }

step "curl: query the device twins one page at a time, as query_iot_hub does"
hub PUT "/devices/${device}2" 200 "{\"deviceId\":\"${device}2\",$empty}"
# Only this walk-through's two devices: the X.509 part made others.
mine="{\"query\":\"SELECT * FROM devices WHERE STARTSWITH(deviceId, '$device')\"}"
query 200 "$mine"
[ "$(header x-ms-item-type)" = twin ] || fail "x-ms-item-type '$(header x-ms-item-type)', want twin"
token=$(header x-ms-continuation)
[ -n "$token" ] || fail "the first of two pages has no x-ms-continuation"
grep -q "^\[{\"deviceId\":\"$device\"," "$work/body" || fail "first page: $(cat "$work/body")"
query 200 "$mine" "$token"
grep -q "^\[{\"deviceId\":\"${device}2\"," "$work/body" || fail "second page: $(cat "$work/body")"
[ -z "$(header x-ms-continuation)" ] || fail "the last page has an x-ms-continuation"

step "curl: a count, and a query the language does not accept"
query 200 '{"query":"SELECT COUNT() AS n FROM devices.modules"}'
[ "$(cat "$work/body")" = '[{"n":1}]' ] || fail "count: $(cat "$work/body")"
[ "$(header x-ms-item-type)" = raw ] || fail "count: x-ms-item-type '$(header x-ms-item-type)', want raw"
query 400 '{"query":"SELECT * FROM devices WHERE"}'
[ "$(header iothub-errorcode)" = ArgumentInvalid ] || fail "bad query: iothub-errorcode '$(header iothub-errorcode)'"
grep -q 'Line 1:28' "$work/body" || fail "bad query: the message does not name the position: $(cat "$work/body")"

step "curl: bulk registry operations, as bulk_create_or_update_devices sends them"
hub POST /devices 200 "[{\"id\":\"${device}b1\",\"importMode\":\"create\"},{\"id\":\"${device}b2\",\"importMode\":\"create\",\"status\":\"disabled\"}]"
grep -q '"isSuccessful":true' "$work/body" || fail "bulk create: $(cat "$work/body")"
hub GET "/devices/${device}b2" 200
grep -q '"status":"disabled"' "$work/body" || fail "bulk-created ${device}b2: $(cat "$work/body")"
hub POST /devices 200 "[{\"id\":\"${device}b1\",\"importMode\":\"create\"},{\"id\":\"${device}b2\",\"importMode\":\"delete\"}]"
grep -q '"isSuccessful":false' "$work/body" && grep -q "\"deviceId\":\"${device}b1\",\"errorCode\":\"DeviceAlreadyExists\"" "$work/body" ||
	fail "bulk with one failure: $(cat "$work/body")"
hub GET "/devices/${device}b2" 404
hub POST /devices 400 "[{\"id\":\"${device}b3\",\"importMode\":\"create\"},{\"id\":\"${device}b3\",\"importMode\":\"delete\"}]"
hub GET "/devices/${device}b3" 404

step "curl: a configuration, as IoTHubConfigurationManager sends it"
# Configuration ids are lowercase.
cfg="{\"id\":\"foreign-cfg\",\"priority\":10,\"targetCondition\":\"deviceId = '${device}b1'\",\"content\":{\"deviceContent\":{\"properties.desired.fw\":{\"v\":2}}},\"metrics\":{\"queries\":{\"ok\":\"SELECT deviceId FROM devices WHERE configurations.[[foreign-cfg]].status = 'Applied'\"}}}"
hub PUT "/configurations/foreign-cfg" 200 "$cfg"
etag=$(sed -E 's/.*"etag":"([^"]*)".*/\1/' "$work/body")
hub PUT "/configurations/foreign-cfg" 409 "$cfg"
hub GET "/twins/${device}b1" 200
grep -q '"fw":{"v":2' "$work/body" && grep -q "\"configurations\":{\"foreign-cfg\":{\"status\":\"Applied\"}}" "$work/body" ||
	fail "configured twin: $(cat "$work/body")"
hub GET "/configurations/foreign-cfg" 200
grep -q '"results":{"appliedCount":1,"targetedCount":1}' "$work/body" && grep -q '"results":{"ok":1}' "$work/body" ||
	fail "configuration metrics: $(cat "$work/body")"
hub PUT "/configurations/foreign-cfg" 200 "${cfg/\"priority\":10/\"priority\":20}" "If-Match: \"$etag\""
hub GET /configurations 200
grep -q '"priority":20' "$work/body" || fail "configurations: $(cat "$work/body")"
hub POST /configurations/testQueries 200 '{"targetCondition":"tags.site = ","customMetricQueries":{"ok":"SELECT deviceId FROM devices"}}'
grep -q '"targetConditionError":"[^"]' "$work/body" && grep -q '"customMetricQueryErrors":{}' "$work/body" ||
	fail "test queries: $(cat "$work/body")"
hub DELETE "/configurations/foreign-cfg" 412 "" 'If-Match: "c3RhbGU="'
hub DELETE "/configurations/foreign-cfg" 204 "" 'If-Match: *'
hub GET "/configurations/foreign-cfg" 404

step "curl: feedback over HTTPS, as receive/complete_feedback_notification send it"
hub GET /messages/serviceBound/feedback 204
hub DELETE /messages/serviceBound/feedback/0f8fad5b-d9cb-469f-a165-70867728950e 412
grep -q '412002' "$work/body" || fail "completing an unknown lock token: $(cat "$work/body")"

step "curl: a scheduled twin update job, as create_scheduled_job and get_scheduled_job send them"
job=${device}-job1
now=$(date -u +%Y-%m-%dT%H:%M:%S.000000Z)
twinjob="{\"jobId\":\"$job\",\"type\":\"scheduleUpdateTwin\",\"updateTwin\":{\"etag\":\"*\",\"properties\":{\"desired\":{\"jobSet\":42}}},\"queryCondition\":\"deviceId = '$device'\",\"startTime\":\"$now\",\"maxExecutionTimeInSeconds\":60}"
hub PUT "/jobs/v2/$job" 200 "$twinjob"
grep -Eq '"status":"(queued|scheduled)"' "$work/body" || fail "created job: $(cat "$work/body")"
hub PUT "/jobs/v2/$job" 409 "$twinjob"
# The job runs at once; a client polls its status, as the SDK samples do.
for _ in $(seq 50); do
	hub GET "/jobs/v2/$job" 200
	grep -q '"status":"completed"' "$work/body" && break
done
grep -q '"status":"completed"' "$work/body" && grep -q '"deviceJobStatistics":{"deviceCount":1,"failedCount":0,"succeededCount":1,' "$work/body" ||
	fail "the twin job did not complete on one device: $(cat "$work/body")"
hub GET "/twins/$device" 200
grep -q '"jobSet":42' "$work/body" || fail "the job did not update the twin: $(cat "$work/body")"
hub POST "/jobs/v2/$job/cancel" 200
grep -q '"status":"completed"' "$work/body" || fail "cancelling an ended job: $(cat "$work/body")"
hub GET "/jobs/v2/${device}-nojob" 404
grep -q 'JobNotFound\|404002' "$work/body" || fail "unknown job: $(cat "$work/body")"
status=$(curl -sS --max-time 10 --cacert "$ca" -o "$work/body" -w '%{http_code}' -H "Authorization: $(sas "$host" "$owner_key" iothubowner)" \
	"https://$host/jobs/v2/query?jobType=scheduleUpdateTwin&jobStatus=completed&$api") || fail "curl GET /jobs/v2/query"
[ "$status" = 200 ] && grep -q "\"jobId\":\"$job\"" "$work/body" || fail "job query answered $status: $(cat "$work/body")"

step "curl: registry and service statistics, and a route that is not emulated"
hub GET /statistics/devices 200
grep -Eq '^\{"totalDeviceCount":[0-9]+,"enabledDeviceCount":[0-9]+,"disabledDeviceCount":[0-9]+\}$' "$work/body" || fail "registry statistics: $(cat "$work/body")"
hub GET /statistics/service 200
grep -Eq '^\{"connectedDeviceCount":[0-9]+\}$' "$work/body" || fail "service statistics: $(cat "$work/body")"
hub GET /jobs 404
grep -q 'not emulated' "$work/body" || fail "a route that is not emulated: $(cat "$work/body")"

step "curl and mosquitto: Plug and Play, the device announcing its model in the user name"
hub GET "/devices/$device" 200
device_key=$(grep -o '"primaryKey":"[^"]*"' "$work/body" | head -n 1 | cut -d'"' -f4)
device_sas=$(sas "$host/devices/$device" "$device_key")
model='dtmi:com:example:TemperatureController;1'
# The Python device SDK's user name: the model URL-encoded after the api-version.
pnp_args=(-h 127.0.0.1 -p "$mqtt_port" --cafile "$ca" -V mqttv311 -i "$device"
	-u "$host/$device/?$api&model-id=$(urlencode "$model")")
mkfifo "$work/pnp"
stdbuf -oL mosquitto_sub "${pnp_args[@]}" -P "$device_sas" -c -q 1 -d -v -C 2 -W 20 \
	-t '$iothub/twin/PATCH/properties/desired/#' -t '$iothub/methods/POST/#' >"$work/pnp" 2>>"$work/mosquitto_sub.log" &
sub_pid=$!
exec 6<"$work/pnp"
subacks=0
while [ "$subacks" -lt 1 ]; do
	read -r -t 15 line <&6 || fail "mosquitto_sub: no SUBACK for the Plug and Play device within 15 s"
	echo "$line" >>"$work/mosquitto_sub.log"
	case $line in *"received SUBACK"*) subacks=1 ;; esac
done
hub GET "/twins/$device" 200
grep -q "\"modelId\":\"$model\"" "$work/body" || fail "the twin does not show the model: $(cat "$work/body")"
hub GET "/digitaltwins/$device" 200
grep -q "^{\"\$dtId\":\"$device\"," "$work/body" && grep -q "\"\$model\":\"$model\"" "$work/body" ||
	fail "digital twin: $(cat "$work/body")"

step "curl: a JSON patch of the digital twin, as update_digital_twin sends it, reaches the device"
hub PATCH "/digitaltwins/$device" 202 '[{"op":"add","path":"/thermostat1/targetTemperature","value":21.4}]' 'If-Match: *'
patch=
while read -r -t 15 line <&6; do
	echo "$line" >>"$work/mosquitto_sub.log"
	case $line in '$iothub/twin/PATCH/properties/desired/'*) patch=$line && break ;; esac
done
# The job above wrote the same twin's desired properties: any $version.
case $patch in *'{"thermostat1":{"__t":"c","targetTemperature":21.4},"$version":'[0-9]*'}') ;; *) fail "desired patch from the JSON patch: '$patch'" ;; esac
hub PATCH "/digitaltwins/$device" 400 '[{"op":"move","from":"/a","path":"/b"}]'

step "curl: a component command, as invoke_component_command sends it; mosquitto_pub answers the method"
curl -sS --max-time 30 --cacert "$ca" -X POST -D "$work/command.headers" -o "$work/command.body" -w '%{http_code}' \
	-H "Authorization: $(sas "$host" "$owner_key" iothubowner)" -H 'Content-Type: application/json' --data '"now"' \
	"https://$host/digitaltwins/$device/components/thermostat1/commands/getMaxMinReport?$api&responseTimeoutInSeconds=20" \
	>"$work/command.status" 2>>"$work/curl.log" &
call_pid=$!
request=
while read -r -t 15 line <&6; do
	echo "$line" >>"$work/mosquitto_sub.log"
	case $line in '$iothub/methods/POST/thermostat1*getMaxMinReport/?$rid='*) request=$line && break ;; esac
done
[ "${request#* }" = '"now"' ] || fail "command as a method call: '$request'"
rid=${request%% *}
rid=${rid#*'?$rid='}
wait "$sub_pid" || fail "mosquitto_sub exited $?"
sub_pid=
mosquitto_pub "${pnp_args[@]}" -P "$device_sas" -q 1 -d -t "\$iothub/methods/res/200/?\$rid=$rid" \
	-m '{"maxTemp":25.3}' >>"$work/mosquitto_pub.log" 2>&1 || fail "mosquitto_pub of the command answer exited $?"
wait "$call_pid" || fail "curl of the command exited $?"
call_pid=
[ "$(cat "$work/command.status")" = 200 ] && [ "$(cat "$work/command.body")" = '{"maxTemp":25.3}' ] ||
	fail "the command answered $(cat "$work/command.status"): $(cat "$work/command.body")"
grep -qi '^x-ms-command-statuscode: 200' "$work/command.headers" && grep -qi '^x-ms-request-id: ' "$work/command.headers" ||
	fail "the command's headers: $(cat "$work/command.headers")"

step "mosquitto_pub: a model id that is not a DTMI is refused"
: >"$work/mosquitto_pub.bad"
if mosquitto_pub -h 127.0.0.1 -p "$mqtt_port" --cafile "$ca" -V mqttv311 -i "$device" -u "$host/$device/?$api&model-id=thermostat" \
	-P "$device_sas" -q 1 -t "devices/$device/messages/events/" -m 'x' >>"$work/mosquitto_pub.bad" 2>&1; then
	fail "mosquitto_pub with model-id=thermostat was accepted"
fi
grep -q 'not authorised\|Connection Refused' "$work/mosquitto_pub.bad" || fail "model-id=thermostat failed, but not as refused"

echo "PASS: curl, mosquitto_sub and mosquitto_pub against $bin"
