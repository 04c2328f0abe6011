/** Worker-thread entry of readConfigFileOffThread: one request in `workerData`, one answer back. */
import { parentPort, workerData } from 'node:worker_threads';
import { readConfigFile, type ConfigFileRequest } from './config-file.js';

parentPort?.postMessage(readConfigFile(workerData as ConfigFileRequest));
