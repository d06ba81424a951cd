// What the demo bucket holds: something to play, something to look at, and
// a folder tree deep and wide enough that listings page.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export interface SampleObject {
  key: string;
  body: Buffer | string;
  type: string;
}

const fixture = (name: string): Buffer => readFileSync(fileURLToPath(new URL(`../../test/fixtures/${name}`, import.meta.url)));

const months = ['01', '02', '03', '04', '05', '06', '07', '08', '09', '10', '11', '12'];

export function sampleObjects(): SampleObject[] {
  const objects: SampleObject[] = [
    {
      key: 'README.txt',
      body: 'Welcome to the s3proxy demo.\n\nEverything here comes from a private bucket, through the proxy, after you signed in.\nTry media/video.webm and seek: only the ranges you watch are fetched.\n',
      type: 'text/plain; charset=utf-8',
    },
    { key: 'media/video.webm', body: fixture('video.webm'), type: 'video/webm' },
    { key: 'images/sample.png', body: fixture('sample.png'), type: 'image/png' },
    { key: 'names/with space & ümlauts.txt', body: 'Keys may hold any character.\n', type: 'text/plain; charset=utf-8' },
  ];
  for (const year of ['2021', '2022', '2023', '2024']) {
    for (const month of months) {
      for (let day = 1; day <= 6; day += 1) {
        const key = `archive/${year}/${month}/notes-${String(day * 5).padStart(2, '0')}.txt`;
        objects.push({ key, body: `Notes of ${year}-${month}-${String(day * 5).padStart(2, '0')}\n`, type: 'text/plain; charset=utf-8' });
      }
    }
    for (const quarter of ['q1', 'q2', 'q3', 'q4']) {
      objects.push({ key: `reports/${year}/${quarter}/summary.csv`, body: `quarter,total\n${year}-${quarter},${year.length * 1000}\n`, type: 'text/csv' });
    }
  }
  return objects;
}
