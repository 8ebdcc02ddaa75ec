// Port names for ipvsadm's ADDR:PORT (`-t 10.1.1.1:http`), as ipvsadm reads
// them (getservbyname) and prints them without -n (getservbyport). The
// appliance has no /etc/services of its own, so it ships the names people
// write in ipvsadm rules.
//
// Names and ports are IANA's (Service Name and Transport Protocol Port Number
// Registry, https://www.iana.org/assignments/service-names-port-numbers);
// aliases are Debian netbase's /etc/services ones (www, imap2, postgres,
// webcache …), plus rdp. A row is for TCP and UDP alike unless it names one;
// the first name of a port is the one printed. Names are case-sensitive, as
// getservbyname's are.

export type PortProto = "tcp" | "udp";

type Row = [name: string, port: number, aliases?: string, only?: PortProto];

const TABLE: Row[] = [
  ["ftp-data", 20], ["ftp", 21], ["ssh", 22], ["telnet", 23], ["smtp", 25], ["domain", 53], ["tftp", 69],
  ["http", 80, "www www-http"], ["kerberos", 88, "kerberos5 krb5 kerberos-sec"], ["pop3", 110, "pop-3"],
  ["sunrpc", 111, "portmapper"], ["nntp", 119], ["ntp", 123], ["netbios-ns", 137], ["netbios-dgm", 138],
  ["netbios-ssn", 139], ["imap", 143, "imap2"], ["snmp", 161], ["snmptrap", 162, "snmp-trap"], ["bgp", 179],
  ["ldap", 389], ["https", 443], ["microsoft-ds", 445], ["kpasswd", 464],
  ["submissions", 465, "smtps ssmtp", "tcp"], ["isakmp", 500], ["syslog", 514, undefined, "udp"], ["rtsp", 554],
  ["submission", 587], ["ldaps", 636], ["domain-s", 853], ["rsync", 873], ["ftps-data", 989], ["ftps", 990],
  ["imaps", 993], ["pop3s", 995], ["openvpn", 1194], ["ms-sql-s", 1433], ["ms-sql-m", 1434],
  ["l2tp", 1701, "l2f"], ["pptp", 1723], ["radius", 1812], ["radius-acct", 1813, "radacct"], ["mqtt", 1883],
  ["nfs", 2049], ["mysql", 3306], ["ms-wbt-server", 3389, "rdp"], ["ipsec-nat-t", 4500], ["sip", 5060],
  ["sips", 5061, "sip-tls"], ["xmpp-client", 5222, undefined, "tcp"], ["xmpp-server", 5269, undefined, "tcp"],
  ["mdns", 5353], ["postgresql", 5432, "postgres"], ["amqps", 5671], ["amqp", 5672], ["rfb", 5900],
  ["redis", 6379, undefined, "tcp"], ["http-alt", 8080, "webcache"], ["secure-mqtt", 8883], ["git", 9418],
  ["zabbix-agent", 10050], ["zabbix-trapper", 10051], ["memcache", 11211], ["mongodb", 27017],
];

interface Entry { port: number; only?: PortProto; }

const byName = new Map<string, Entry>();
const byPort = new Map<number, { name: string; only?: PortProto }[]>();
for (const [name, port, aliases, only] of TABLE) {
  for (const n of [name, ...(aliases ? aliases.split(" ") : [])]) byName.set(n, { port, only });
  const names = byPort.get(port) ?? [];
  names.push({ name, only });
  byPort.set(port, names);
}

/** The port a name stands for with this protocol; null when it has none. */
export function portByName(name: string, proto: PortProto): number | null {
  const e = byName.get(name);
  return e && (!e.only || e.only === proto) ? e.port : null;
}

/** The name ipvsadm prints for a port of this protocol without -n; null when it has none. */
export function portName(port: number, proto: PortProto): string | null {
  return byPort.get(port)?.find((e) => !e.only || e.only === proto)?.name ?? null;
}
