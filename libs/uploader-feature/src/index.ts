export * from './uploader-feature.module';
export * from './upload.service';
export * from './semaphore';
