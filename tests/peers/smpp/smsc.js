// An SMSC made of the npm `smpp` package (farhadi/node-smpp): code nobody at Pigeon wrote
// decodes Pigeon's PDUs.  It binds one system_id/password, answers submit_sm with an id,
// reports what it decoded as JSON lines on stdout, sends a DELIVRD receipt (text and TLVs) for
// every submit_sm that asks for one, and after the first receipt is answered sends one MO.
//
//   node smsc.js SYSTEM_ID PASSWORD [SWITCHES]   → first line {"event":"listening","port":N}
//
// Switches, for the faults a real SMSC shows (all off by default):
//
//   --throttle N           every Nth submit_sm (counted over all sessions, from 1) is answered
//                          ESME_RTHROTTLED (0x58): no id, no receipt.
//   --fail DEST=STAT:ERR   submit_sm to DEST (destination_addr as sent, e.g. 8613700000001)
//                          are accepted, and their receipt says stat:STAT err:ERR (STAT is
//                          UNDELIV, REJECTD, EXPIRED…; ERR is the rest, e.g. MK:0005).
//                          Repeat the switch for more destinations.
//   --refuse-binds N       the first N bind requests are answered ESME_RBINDFAIL (0x0D) and
//                          their connection closed.
//   --drop-after N         the Nth submit_sm (over all sessions) is not answered: the session
//                          stops reading and its socket is destroyed, once.
//
// Receipts are stored and forwarded as an SMSC does: sent on any bound session that can
// receive (the one the message came on if it is still up), kept while none is bound, and sent
// again when their session closes before the deliver_sm_resp or the answer is not ESME_ROK.
//
// Events (one JSON object a line): listening; bind {session, system_id, password,
// interface_version, command_status}; submit_sm {session, id (null when refused),
// command_status (null when dropped), source_addr, destination_addr, …, udh, message};
// drop {session}; deliver_sm_resp {id, session, command_status}; mo_resp; unbind {session};
// close {session}; error {message}.
"use strict";

const smpp = require("smpp");

function count(name, value) {
  const number = Number(value);
  if (!Number.isInteger(number) || number < 0) {
    throw new Error(`${name} takes a whole number, got ${value}`);
  }
  return number;
}

function parseArguments(argv) {
  const [systemId, password, ...rest] = argv;
  const options = { systemId, password, throttle: 0, fail: new Map(), refuseBinds: 0,
                    dropAfter: 0 };
  for (let i = 0; i < rest.length; i += 2) {
    const [name, value] = [rest[i], rest[i + 1]];
    if (value === undefined) {
      throw new Error(`${name} needs a value`);
    }
    if (name === "--throttle") {
      options.throttle = count(name, value);
    } else if (name === "--refuse-binds") {
      options.refuseBinds = count(name, value);
    } else if (name === "--drop-after") {
      options.dropAfter = count(name, value);
    } else if (name === "--fail") {
      const match = /^([^=]+)=([A-Z]+):(.*)$/.exec(value);
      if (!match) {
        throw new Error(`--fail takes DEST=STAT:ERR, got ${value}`);
      }
      options.fail.set(match[1], { stat: match[2], err: match[3] });
    } else {
      throw new Error(`unknown switch ${name}`);
    }
  }
  return options;
}

const options = parseArguments(process.argv.slice(2));
const MESSAGE_STATES = { DELIVRD: "DELIVERED", UNDELIV: "UNDELIVERABLE", REJECTD: "REJECTED",
                         EXPIRED: "EXPIRED", DELETED: "DELETED", UNKNOWN: "UNKNOWN" };
let counter = 0; // message ids given
let submits = 0; // submit_sm received
let binds = 0; // bind requests received
let sessions = 0;
let dropped = false;
let moSent = false;
const bound = new Set(); // sessions bound as transceiver or receiver
const receipts = []; // waiting for a session to carry them

function emit(event) {
  process.stdout.write(JSON.stringify(event) + "\n");
}

function stamp() {
  const d = new Date();
  const two = (n) => String(n).padStart(2, "0");
  return two(d.getUTCFullYear() % 100) + two(d.getUTCMonth() + 1) + two(d.getUTCDate())
    + two(d.getUTCHours()) + two(d.getUTCMinutes());
}

function sendMo(session) {
  if (moSent) {
    return;
  }
  moSent = true;
  session.deliver_sm({
    source_addr: "8613800138000",
    destination_addr: "10690011234",
    short_message: "退订 STOP",
  }, (moResp) => emit({ event: "mo_resp", command_status: moResp.command_status }));
}

// Send the receipts waiting, each on its own session if still bound, else on any bound one.
function forward() {
  while (receipts.length && bound.size) {
    const receipt = receipts.shift();
    const session = bound.has(receipt.session) ? receipt.session : bound.values().next().value;
    const outcome = options.fail.get(receipt.destination) || { stat: "DELIVRD", err: "000" };
    let answered = false;
    const again = () => {
      if (!answered) {
        answered = true;
        receipts.push(receipt);
        setTimeout(forward, 50);
      }
    };
    session.once("close", again);
    session.deliver_sm({
      source_addr: receipt.destination,
      destination_addr: receipt.source,
      esm_class: smpp.ESM_CLASS.MC_DELIVERY_RECEIPT,
      short_message: `id:${receipt.id} sub:001 dlvrd:${outcome.stat === "DELIVRD" ? "001" : "000"}`
        + ` submit date:${stamp()} done date:${stamp()} stat:${outcome.stat}`
        + ` err:${outcome.err} text:`,
      receipted_message_id: receipt.id,
      message_state: smpp.MESSAGE_STATE[MESSAGE_STATES[outcome.stat] || "UNKNOWN"],
    }, (resp) => {
      session.removeListener("close", again);
      emit({ event: "deliver_sm_resp", id: receipt.id, session: session.number,
             command_status: resp.command_status });
      if (resp.command_status !== 0) {
        again();
      } else {
        answered = true;
        sendMo(session);
      }
    });
  }
}

function onBind(session, mode, pdu) {
  binds += 1;
  let status = 0;
  if (binds <= options.refuseBinds
      || pdu.system_id !== options.systemId || pdu.password !== options.password) {
    status = smpp.ESME_RBINDFAIL;
  }
  emit({ event: "bind", session: session.number, mode, system_id: pdu.system_id,
         password: pdu.password, interface_version: pdu.interface_version,
         command_status: status });
  if (status) {
    session.send(pdu.response({ command_status: status }));
    session.close();
    return;
  }
  session.mode = mode;
  session.send(pdu.response({ system_id: "NodeSMSC" }));
  if (mode !== "transmitter") {
    bound.add(session);
    forward();
  }
}

function onSubmit(session, pdu) {
  submits += 1;
  const sm = pdu.short_message;
  const event = {
    event: "submit_sm", session: session.number, id: null, command_status: 0,
    source_addr: pdu.source_addr, destination_addr: pdu.destination_addr,
    dest_addr_ton: pdu.dest_addr_ton, dest_addr_npi: pdu.dest_addr_npi,
    esm_class: pdu.esm_class, data_coding: pdu.data_coding,
    registered_delivery: pdu.registered_delivery,
    udh: (sm.udh || []).map((element) => element.toString("hex")),
    message: sm.message,
  };
  if (!session.mode || session.mode === "receiver") {
    event.command_status = smpp.ESME_RINVBNDSTS;
  } else if (options.dropAfter && !dropped && submits === options.dropAfter) {
    dropped = true;
    event.command_status = null;
    emit(event);
    emit({ event: "drop", session: session.number });
    session.pause(); // nothing more is read from this connection
    session.destroy();
    return;
  } else if (options.throttle && submits % options.throttle === 0) {
    event.command_status = smpp.ESME_RTHROTTLED;
  } else {
    event.id = "N" + String(++counter).padStart(6, "0");
  }
  session.send(pdu.response(event.id ? { message_id: event.id }
    : { command_status: event.command_status }));
  emit(event);
  if (event.id && (pdu.registered_delivery & 1)) {
    const receipt = { id: event.id, session, source: pdu.source_addr,
                      destination: pdu.destination_addr };
    setTimeout(() => {
      receipts.push(receipt);
      forward();
    }, 20);
  }
}

const server = smpp.createServer((session) => {
  session.number = ++sessions;
  session.on("error", (error) => emit({ event: "error", session: session.number,
                                        message: String(error) }));
  session.on("close", () => {
    bound.delete(session);
    emit({ event: "close", session: session.number });
  });
  session.on("bind_transceiver", (pdu) => onBind(session, "transceiver", pdu));
  session.on("bind_transmitter", (pdu) => onBind(session, "transmitter", pdu));
  session.on("bind_receiver", (pdu) => onBind(session, "receiver", pdu));
  session.on("submit_sm", (pdu) => onSubmit(session, pdu));
  session.on("enquire_link", (pdu) => session.send(pdu.response()));
  session.on("unbind", (pdu) => {
    bound.delete(session);
    session.send(pdu.response());
    session.close();
    emit({ event: "unbind", session: session.number });
  });
});

server.listen(0, "127.0.0.1", () => emit({ event: "listening", port: server.address().port }));
