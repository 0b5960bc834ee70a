# Source this to put the Node.js that scripts/setup.sh installed first on PATH for this shell:
#   . scripts/node-env.sh          (Node 24, /opt/nslocate/node-24)
#   NSLOCATE_NODE=22 . scripts/node-env.sh
# Needed only where setup.sh could not link /usr/local/bin/node (a node there that is not nslocate's).
_nslocate_node_bin=/opt/nslocate/node-${NSLOCATE_NODE:-24}/bin
if [ -x "$_nslocate_node_bin/node" ]; then
  case ":$PATH:" in *":$_nslocate_node_bin:"*) ;; *) PATH="$_nslocate_node_bin:$PATH"; export PATH ;; esac
  hash -r 2>/dev/null
else
  echo "node-env: $_nslocate_node_bin/node not found: run bash scripts/install-node.sh ${NSLOCATE_NODE:-24}" >&2
fi
unset _nslocate_node_bin
