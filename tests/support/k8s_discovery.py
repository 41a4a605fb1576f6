"""A stand-in for a Kubernetes API server's discovery endpoints, so `kubectl apply
--dry-run=client` can map the example manifests' kinds without a cluster (tests/launchers.rs).
Prints its port, then serves until killed."""
import json, sys
from http.server import BaseHTTPRequestHandler, HTTPServer
def res(name, kind, namespaced=True, short=None):
    return {"name": name, "singularName": "", "namespaced": namespaced, "kind": kind,
            "verbs": ["create","delete","get","list","patch","update","watch"]}
DOCS = {
 "/api": {"kind":"APIVersions","versions":["v1"],"serverAddressByClientCIDRs":[{"clientCIDR":"0.0.0.0/0","serverAddress":"127.0.0.1"}]},
 "/apis": {"kind":"APIGroupList","apiVersion":"v1","groups":[
   {"name":"apps","versions":[{"groupVersion":"apps/v1","version":"v1"}],"preferredVersion":{"groupVersion":"apps/v1","version":"v1"}},
   {"name":"batch","versions":[{"groupVersion":"batch/v1","version":"v1"}],"preferredVersion":{"groupVersion":"batch/v1","version":"v1"}}]},
 "/api/v1": {"kind":"APIResourceList","groupVersion":"v1","resources":[res("secrets","Secret"),res("services","Service"),res("persistentvolumeclaims","PersistentVolumeClaim"),res("configmaps","ConfigMap"),res("pods","Pod")]},
 "/apis/apps/v1": {"kind":"APIResourceList","apiVersion":"v1","groupVersion":"apps/v1","resources":[res("deployments","Deployment")]},
 "/apis/batch/v1": {"kind":"APIResourceList","apiVersion":"v1","groupVersion":"batch/v1","resources":[res("jobs","Job")]},
}
class H(BaseHTTPRequestHandler):
    def do_GET(self):
        p = self.path.split("?")[0]
        if p in DOCS:
            b = json.dumps(DOCS[p]).encode()
            self.send_response(200); self.send_header("Content-Type","application/json"); self.send_header("Content-Length",str(len(b))); self.end_headers(); self.wfile.write(b)
        else:
            self.send_response(404); self.send_header("Content-Length","0"); self.end_headers()
    def log_message(self, *a): pass
s = HTTPServer(("127.0.0.1", 0), H)
print(s.server_address[1], flush=True)
s.serve_forever()
