import { classifyShell } from './src/policy/classifiers/shell.js';

const c = "sudo -u deploy env A=1 bash -c 'kubectl -n prod delete pod web-1 | tee /tmp/log'";
for (let i = 0; i < 200; i++) classifyShell(c);
let t = process.hrtime.bigint();
for (let i = 0; i < 1000; i++) classifyShell(c);
console.log('per call us', Number(process.hrtime.bigint() - t) / 1000 / 1000);
t = process.hrtime.bigint();
for (let i = 0; i < 1000; i++) classifyShell('ls -la');
console.log('simple per call us', Number(process.hrtime.bigint() - t) / 1000 / 1000);
