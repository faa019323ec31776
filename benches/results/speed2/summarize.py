# Summarises keel-bench-ab JSON lines tagged with "bin" and "rep" (see BENCHMARKS.md,
# "Execution speed (issue 12)"): the median over processes of each per-op median and ratio.
import json,sys,collections,statistics as st
rows=[json.loads(l) for l in open(sys.argv[1])]
runs=collections.defaultdict(dict)
for r in rows: runs[(r['bin'],r['rep'],r['set'])][r['name']]=r['per_op_ns']
val=collections.defaultdict(list)
for (b,rep,s),m in runs.items():
    for n,v in m.items(): val[(b,s,n)].append(v)
    if s=='transfer':
        val[(b,s,'R simulate/revm_erc20')].append(m['keel_token_simulate_no_commit']/m['revm_erc20_1k'])
        val[(b,s,'R memblock/revm_erc20')].append(m['keel_token_memstore_block1k']/m['revm_erc20_1k'])
        val[(b,s,'R rocksblock/revm_erc20')].append(m['keel_token_rocksdb_block1k']/m['revm_erc20_1k'])
        if 'keel_token_simulate_no_pool' in m: val[(b,s,'R nopool/revm_erc20')].append(m['keel_token_simulate_no_pool']/m['revm_erc20_1k'])
    elif s=='empty_call':
        val[(b,s,'R keel/plain')].append(m['keel_simulate']/m['wasmi_plain_instantiate_call'])
        if 'keel_simulate_no_pool' in m: val[(b,s,'R nopool/plain')].append(m['keel_simulate_no_pool']/m['wasmi_plain_instantiate_call'])
    elif s.startswith('compute'):
        val[(b,s,'R keel/fuel')].append(m['keel_metered']/m['wasmi_fuel'])
        val[(b,s,'R keel/plain')].append(m['keel_metered']/m['wasmi_plain'])
for k in sorted(val):
    v=val[k]
    if k[2].startswith('R'): print(k, 'median %.2f'%st.median(v), 'range %.2f-%.2f'%(min(v),max(v)))
    else: print(k, 'median %.0f'%st.median(v), 'range %.0f-%.0f'%(min(v),max(v)))
