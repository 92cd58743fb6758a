// Helpers for this package's tests: real UDP, DNS and SMTP servers on 127.0.0.1, closed by `closeAll()`.
import { createSocket, type Socket as UdpSocket } from "node:dgram";
import { createServer as createTcpServer, type Socket } from "node:net";
import { TLSSocket } from "node:tls";
import dnsPacket from "dns-packet";
import type { TestServers } from "./test-servers.js";

/** A UDP server on 127.0.0.1: `onMessage` answers through `reply` (or stays silent). */
export async function udpServer(
  servers: TestServers,
  onMessage: (message: Buffer, reply: (bytes: Buffer | string) => void) => void,
  socket: UdpSocket = createSocket("udp4"),
): Promise<string> {
  servers.track({ close: (done: () => void) => socket.close(done) });
  socket.on("message", (message, from) =>
    onMessage(message, (bytes) => socket.send(bytes, from.port, from.address)),
  );
  await new Promise<void>((resolve) => socket.bind(0, "127.0.0.1", resolve));
  return `127.0.0.1:${socket.address().port}`;
}

export type Zone = Record<string, dnsPacket.Answer[]>;

/**
 * A tiny authoritative DNS server for `zone` (keys `name TYPE`), on one port over UDP and TCP: NXDOMAIN for
 * names it does not know, NOERROR with no answer for a known name and another type, REFUSED for `refused.`.
 * `queries` records every question it saw with its transport and RD flag.
 */
export async function dnsServer(
  servers: TestServers,
  zone: Zone,
): Promise<{ address: string; queries: { name: string; type: string; transport: string; rd: boolean }[] }> {
  const queries: { name: string; type: string; transport: string; rd: boolean }[] = [];
  const answer = (request: Buffer, transport: string): Buffer => {
    const query = dnsPacket.decode(request);
    const question = query.questions?.[0];
    const name = question?.name ?? "";
    queries.push({ name, type: question?.type ?? "", transport, rd: query.flag_rd });
    const known = Object.keys(zone).some((key) => key.split(" ")[0] === name);
    const answers = zone[`${name} ${question?.type}`] ?? [];
    const rcode = name === "refused.example" ? 5 : known ? 0 : 3;
    return dnsPacket.encode({
      type: "response",
      id: query.id,
      flags: dnsPacket.AUTHORITATIVE_ANSWER | rcode,
      questions: query.questions,
      answers,
    });
  };
  const udp = createSocket("udp4");
  const address = await udpServer(servers, (message, reply) => reply(answer(message, "udp")), udp);
  const port = Number(address.split(":")[1]);
  const tcp = createTcpServer((socket) => {
    let buffered = Buffer.alloc(0);
    socket.on("data", (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      if (buffered.length < 2 || buffered.length < 2 + buffered.readUInt16BE(0)) return;
      const response = answer(buffered.subarray(2, 2 + buffered.readUInt16BE(0)), "tcp");
      const length = Buffer.alloc(2);
      length.writeUInt16BE(response.length);
      socket.end(Buffer.concat([length, response]));
    });
  });
  servers.track(tcp);
  await new Promise<void>((resolve, reject) => {
    tcp.once("error", reject);
    tcp.listen(port, "127.0.0.1", resolve);
  });
  return { address, queries };
}

export type SmtpOptions = {
  banner?: string;
  /** `reject`: answer EHLO with 502 (HELO must follow). */
  ehlo?: "ok" | "reject";
  /** Offer STARTTLS with this key and certificate. */
  tls?: { key: Buffer; cert: Buffer };
};

/** An SMTP server that speaks just enough: banner, EHLO/HELO, STARTTLS, QUIT. `seen` lists the commands. */
export async function smtpServer(servers: TestServers, options: SmtpOptions = {}) {
  const seen: string[] = [];
  const server = createTcpServer((raw) => {
    const speak = (socket: Socket) => {
      let buffered = "";
      socket.on("data", (chunk: Buffer) => {
        buffered += chunk.toString("latin1");
        for (let end = buffered.indexOf("\r\n"); end >= 0; end = buffered.indexOf("\r\n")) {
          const line = buffered.slice(0, end);
          buffered = buffered.slice(end + 2);
          seen.push(line);
          const verb = line.split(" ")[0]?.toUpperCase();
          if (verb === "EHLO" && options.ehlo === "reject") socket.write("502 5.5.2 EHLO not supported\r\n");
          else if (verb === "EHLO") {
            const secure = socket instanceof TLSSocket;
            socket.write(
              `250-mx.lvsq.test greets ${line.slice(5)}\r\n${options.tls && !secure ? "250-STARTTLS\r\n" : ""}250 8BITMIME\r\n`,
            );
          } else if (verb === "HELO") socket.write("250 mx.lvsq.test\r\n");
          else if (verb === "STARTTLS" && options.tls) {
            socket.removeAllListeners("data");
            socket.write("220 2.0.0 ready to start TLS\r\n", () => {
              speak(
                new TLSSocket(socket, { isServer: true, key: options.tls!.key, cert: options.tls!.cert }),
              );
            });
            return;
          } else if (verb === "QUIT") socket.end("221 2.0.0 bye\r\n");
          else socket.write("500 5.5.1 unknown command\r\n");
        }
      });
      socket.on("error", () => {});
    };
    raw.write(`${options.banner ?? "220 mx.lvsq.test ESMTP ready"}\r\n`);
    speak(raw);
  });
  const address = await servers.listen(server);
  return { address, seen };
}
