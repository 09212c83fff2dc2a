// An SMSC made of the npm `smpp` package (farhadi/node-smpp): code nobody at Pigeon wrote
// decodes Pigeon's PDUs.  It binds one system_id/password, answers submit_sm with an id,
// reports what it decoded as JSON lines on stdout, sends a DELIVRD receipt (text and TLVs) for
// every submit_sm that asks for one, and after the first receipt is answered sends one MO.
//
//   node smsc.js SYSTEM_ID PASSWORD     → first line {"event":"listening","port":N}
"use strict";

const smpp = require("smpp");

const [systemId, password] = process.argv.slice(2);
let counter = 0;
let moSent = false;

function emit(event) {
  process.stdout.write(JSON.stringify(event) + "\n");
}

function stamp() {
  const d = new Date();
  const two = (n) => String(n).padStart(2, "0");
  return two(d.getUTCFullYear() % 100) + two(d.getUTCMonth() + 1) + two(d.getUTCDate())
    + two(d.getUTCHours()) + two(d.getUTCMinutes());
}

const server = smpp.createServer((session) => {
  session.on("error", (error) => emit({ event: "error", message: String(error) }));

  session.on("bind_transceiver", (pdu) => {
    emit({ event: "bind", system_id: pdu.system_id, password: pdu.password,
           interface_version: pdu.interface_version });
    if (pdu.system_id !== systemId || pdu.password !== password) {
      session.send(pdu.response({ command_status: smpp.ESME_RBINDFAIL }));
      session.close();
      return;
    }
    session.send(pdu.response({ system_id: "NodeSMSC" }));
  });

  session.on("submit_sm", (pdu) => {
    const id = "N" + String(++counter).padStart(6, "0");
    session.send(pdu.response({ message_id: id }));
    const sm = pdu.short_message;
    emit({
      event: "submit_sm", id,
      source_addr: pdu.source_addr, destination_addr: pdu.destination_addr,
      dest_addr_ton: pdu.dest_addr_ton, dest_addr_npi: pdu.dest_addr_npi,
      esm_class: pdu.esm_class, data_coding: pdu.data_coding,
      registered_delivery: pdu.registered_delivery,
      udh: (sm.udh || []).map((element) => element.toString("hex")),
      message: sm.message,
    });
    if (!(pdu.registered_delivery & 1)) {
      return;
    }
    setTimeout(() => {
      session.deliver_sm({
        source_addr: pdu.destination_addr,
        destination_addr: pdu.source_addr,
        esm_class: smpp.ESM_CLASS.MC_DELIVERY_RECEIPT,
        short_message: `id:${id} sub:001 dlvrd:001 submit date:${stamp()} done date:${stamp()}`
          + " stat:DELIVRD err:000 text:",
        receipted_message_id: id,
        message_state: smpp.MESSAGE_STATE.DELIVERED,
      }, (resp) => {
        emit({ event: "deliver_sm_resp", id, command_status: resp.command_status });
        if (!moSent) {
          moSent = true;
          session.deliver_sm({
            source_addr: "8613800138000",
            destination_addr: "10690011234",
            short_message: "退订 STOP",
          }, (moResp) => emit({ event: "mo_resp", command_status: moResp.command_status }));
        }
      });
    }, 20);
  });

  session.on("enquire_link", (pdu) => session.send(pdu.response()));

  session.on("unbind", (pdu) => {
    session.send(pdu.response());
    session.close();
    emit({ event: "unbind" });
  });
});

server.listen(0, "127.0.0.1", () => emit({ event: "listening", port: server.address().port }));
