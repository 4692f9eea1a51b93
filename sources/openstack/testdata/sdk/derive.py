#!/usr/bin/python3
"""Derive the `openstack` host var the openstack.cloud 2.x inventory plugin
builds from a Nova server body: the plugin (plugins/inventory/openstack.py,
_fetch_servers) keeps server.to_dict(computed=False) of openstacksdk's
compute.v2.server.Server. This runs openstacksdk's own to_dict on each
NAME.nova.json here (the body of one server of GET servers/detail) and writes
NAME.sdk.json, which TestServerVarsMatchOpenstacksdk compares Roster's
serverVars with.

Run with Debian's python3-openstacksdk (0.101.0 when written):
    /usr/bin/python3 testdata/sdk/derive.py
"""
import glob
import json
import os

from openstack.compute.v2 import server

here = os.path.dirname(os.path.abspath(__file__))
for path in sorted(glob.glob(os.path.join(here, '*.nova.json'))):
    with open(path) as f:
        body = json.load(f)
    d = server.Server.existing(**body).to_dict(computed=False)
    out = path[:-len('.nova.json')] + '.sdk.json'
    with open(out, 'w') as f:
        json.dump(d, f, indent=2, sort_keys=True)
        f.write('\n')
