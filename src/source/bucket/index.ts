export { bucketRevision, indexBucket, sortedKeys, type BucketIndex } from './bucket-index.ts';
export { confinedPath, downloadBucket } from './download-bucket.ts';
export { BucketError, S3Client, splitEndpoint, type S3Location } from './s3-client.ts';
