# Reads the RootDSE and the subschema with python-ldap3 (Debian's
# python3-ldap3), as applications built on it do at connect time
# (get_info=ALL), and prints what it parsed as JSON.
import json
import sys

import ldap3

host, port, user, password, base = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
server = ldap3.Server(host, port=port, get_info=ldap3.ALL)
conn = ldap3.Connection(server, user=user, password=password, auto_bind=True, raise_exceptions=True)
schema = server.schema
out = {
    "naming_contexts": list(server.info.naming_contexts or []),
    "supported_controls": [c[0] for c in (server.info.supported_controls or [])],
    "attribute_types": sorted(schema.attribute_types.keys()),
    "object_classes": sorted(schema.object_classes.keys()),
    "inetOrgPerson_must": list(schema.object_classes["inetOrgPerson"].must_contain or []),
    "uid_syntax": schema.attribute_types["uid"].syntax,
}
# A search with the schema loaded checks attribute names against it.
conn.search(base, "(uid=alice)", attributes=["uid", "mail", "memberOf", "entryUUID"])
out["entries"] = [e.entry_dn for e in conn.entries]
out["alice_mail"] = [str(v) for v in conn.entries[0]["mail"]] if conn.entries else []
print(json.dumps(out))
